"""One path per use case: ``ecomops query`` answers and refuses the same here (the file opened read-only)
and through a running server, and the same as ``POST …/query``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.one_path import cli_failure, cli_json, http_failure, serving
from tests.warehouse.test_warehouse_query_cli import BY_STATUS, SEED

REFUSED = "COPY orders TO '/tmp/ecomops-one-path.csv'"
#: Issue 13 item 6: a compound join condition ran nowhere ("table function … not allowed").
SPEND = (
    "INSERT INTO ad_spend (date, channel, utm_source, utm_medium, utm_campaign, spend, currency) VALUES "
    "('2026-11-10', 'web', 'google', 'cpc', 'brand', 30, 'CNY')"
)
COMPOUND_JOIN = (
    "SELECT count(*) AS pairs FROM orders o "
    "JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium"
)
FILE_IN_JOIN = (
    "SELECT * FROM orders o JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium "
    "JOIN read_csv('/etc/passwd') p ON true"
)


def _timeless(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without its run time (the only field that differs between two runs)."""
    assert answer.pop("elapsed_ms") >= 0
    return answer


def test_query_is_one_path(settings: Settings, tenant: TenantInfo, data_dir: Path) -> None:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        with warehouse.write() as cur:
            cur.execute(SEED)
            cur.execute(SPEND)
            cur.execute("UPDATE orders SET utm_source = 'google', utm_medium = 'cpc' WHERE order_id = 'o1'")
    finally:
        warehouse.close()
    args = ["query", "--tenant", "acme", "--limit", "1"]
    here = cli_json(*args, "-f", "json", BY_STATUS)
    here_failure = cli_failure(*args, REFUSED)
    with serving(data_dir, tenant.slug) as api:
        there = cli_json(*args, "-f", "json", BY_STATUS)
        there_failure = cli_failure(*args, REFUSED)
        http = api.post("/query", json={"sql": BY_STATUS, "limit": 1}).json()
        failed = http_failure(api.post("/query", json={"sql": REFUSED, "limit": 1}))
        joined = [cli_json("query", "--tenant", "acme", "-f", "json", COMPOUND_JOIN)["rows"]]
        joined.append(api.post("/query", json={"sql": COMPOUND_JOIN}).json()["rows"])
        escapes = [cli_failure("query", "--tenant", "acme", FILE_IN_JOIN)]
        escapes.append(http_failure(api.post("/query", json={"sql": FILE_IN_JOIN})))
    joined.append(cli_json("query", "--tenant", "acme", "-f", "json", COMPOUND_JOIN)["rows"])
    escapes.append(cli_failure("query", "--tenant", "acme", FILE_IN_JOIN))
    assert joined == [[[1]]] * 3
    assert escapes[0][:2] == (400, "query_refused") and "read_csv() is not allowed" in escapes[0][2]
    assert escapes[0] == escapes[1] == escapes[2]
    assert here["rows"] == [["paid", 2, "158.7500"]] and here["truncated"] is True
    assert _timeless(here) == _timeless(there) == _timeless(http)
    assert here_failure[:2] == (400, "query_refused") and "COPY" in here_failure[2]
    assert here_failure == there_failure == failed
    assert not Path("/tmp/ecomops-one-path.csv").exists()
