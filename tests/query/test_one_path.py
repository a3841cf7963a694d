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


def _timeless(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without its run time (the only field that differs between two runs)."""
    assert answer.pop("elapsed_ms") >= 0
    return answer


def test_query_is_one_path(settings: Settings, tenant: TenantInfo, data_dir: Path) -> None:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        with warehouse.write() as cur:
            cur.execute(SEED)
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
    assert here["rows"] == [["paid", 2, "158.7500"]] and here["truncated"] is True
    assert _timeless(here) == _timeless(there) == _timeless(http)
    assert here_failure[:2] == (400, "query_refused") and "COPY" in here_failure[2]
    assert here_failure == there_failure == failed
    assert not Path("/tmp/ecomops-one-path.csv").exists()
