"""One path per use case: ``ecomops alerts run`` answers and fails the same here (the file opened
read-only) and through a running server, and the same as ``POST …/alerts/run``; the store-only
commands fail like the API too."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ecomops.platform.context import TenantInfo
from ecomops.platform.enablement import set_enabled
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.one_path import cli_failure, cli_json, http_failure, serving

OFF = (404, "module_disabled", "the alerts module is switched off for this shop")


def test_alerts_run_is_one_path(
    settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path
) -> None:
    open_warehouse(settings.warehouse_dir(), tenant.id).close()  # an empty shop: yesterday's GMV is 0
    rule = cli_json(
        "alerts",
        "create",
        "--tenant",
        "acme",
        "--name",
        "never",
        "--metric",
        "gmv",
        "--threshold",
        "0",
        "--json",
    )
    run = ["alerts", "run", "--tenant", "acme", "--rule", "never", "--json"]
    here = cli_json(*run)
    with serving(data_dir, tenant.slug, {"ECOMOPS_API_KEY_CACHE_SECONDS": "0"}) as api:
        there = cli_json(*run)
        http = api.post("/alerts/run", json={"rule_ids": [rule["id"]]}).json()
        set_enabled(engine, tenant.id, "alerts", False)
        there_failure = cli_failure("alerts", "run", "--tenant", "acme")
        failed = http_failure(api.post("/alerts/run", json={}))
        listed = http_failure(api.get("/alerts"))
    here_failure = cli_failure("alerts", "run", "--tenant", "acme")
    assert [(r["rule_id"], r["status"], r["event_id"]) for r in here] == [(rule["id"], "ok", None)]
    assert here == there == http
    assert here_failure == there_failure == failed == OFF
    assert cli_failure("alerts", "list", "--tenant", "acme") == listed == OFF
