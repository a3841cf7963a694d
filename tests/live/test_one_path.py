"""One path per use case: ``ecomops live show`` answers and fails the same here (the file opened read-only)
and through a running server, and the same as ``GET …/live``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ecomops.kernel.clock import utcnow
from ecomops.platform.context import TenantInfo
from ecomops.platform.enablement import set_enabled
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.one_path import cli_failure, cli_json, http_failure, serving

SHOW = ["live", "show", "--tenant", "acme", "--json"]


def _steady(snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without what moves with the clock between two calls (the time it is for, and the
    minute axis); the minutes' orders are kept as a sum (the seeded orders are minutes old)."""
    rest = {k: v for k, v in snap.items() if k not in ("as_of", "minutes")}
    return {**rest, "orders_last_hour": sum(m["orders"] for m in snap["minutes"])}


def test_live_show_is_one_path(
    settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path
) -> None:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    with warehouse.write() as cur:
        for oid, status, total in (("o1", "paid", "300.0000"), ("o2", "pending", "45.5000")):
            cur.execute(
                """INSERT INTO orders (order_id, channel, customer_id, status, ordered_at, currency,
                                       subtotal, total, items_count)
                   VALUES (?, 'douyin', 'c1', ?, ?, 'CNY', ?, ?, 1)""",
                [oid, status, utcnow() - timedelta(minutes=2), total, total],
            )
    warehouse.close()
    here = cli_json(*SHOW)
    # The server sees the switch at once (no enablement cache), as a command always does.
    with serving(data_dir, tenant.slug, {"ECOMOPS_API_KEY_CACHE_SECONDS": "0"}) as api:
        there = cli_json(*SHOW)
        http = api.get("/live").json()
        set_enabled(engine, tenant.id, "live", False)
        there_failure = cli_failure(*SHOW)
        failed = http_failure(api.get("/live"))
    here_failure = cli_failure(*SHOW)
    assert here["today"]["gmv"] == "345.5000" and _steady(here)["orders_last_hour"] == 2
    assert _steady(here) == _steady(there) == _steady(http)
    assert here_failure == (404, "module_disabled", "the live module is switched off for this shop")
    assert here_failure == there_failure == failed
