"""``ecomops orders`` answers alike through a running server and here: the same JSON as the API for a
success, the same (status, code, message) as the API for a failure."""

from __future__ import annotations

from pathlib import Path

from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.one_path import cli_failure, cli_json, http_failure, serving
from tests.orders.test_orders import seed_orders

LIST = ["orders", "list", "--tenant", "acme", "--channel", "web", "--limit", "2", "--json"]
SHOW = ["orders", "show", "o2", "--tenant", "acme", "--json"]
MISSING = ["orders", "show", "nope", "--tenant", "acme"]
CONTRADICTION = ["orders", "list", "--tenant", "acme", "--min-total", "10", "--max-total", "5"]


def _run_all() -> tuple[object, ...]:
    return (
        cli_json(*LIST),
        cli_json(*SHOW),
        cli_failure(*MISSING),
        cli_failure(*CONTRADICTION),
    )


def test_orders_cli_answers_alike_here_through_the_server_and_over_http(
    data_dir: Path, settings: Settings, tenant: TenantInfo
) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_orders(wh)
    wh.close()
    with serving(data_dir, "acme") as api:
        over_http = (
            api.get("/orders", params={"channel": "web", "limit": 2}).json(),
            api.get("/orders/o2").json(),
            http_failure(api.get("/orders/nope")),
            http_failure(api.get("/orders", params={"min_total": "10", "max_total": "5"})),
        )
        through_server = _run_all()
    here = _run_all()
    assert through_server == here == over_http
    page, order, missing, contradiction = here
    assert [o["order_id"] for o in page["items"]] == ["o7", "o5"] and page["next_cursor"]
    assert (order["total"], order["refunded_total"]) == ("518.5000", "18.5000")
    assert missing == (404, "not_found", "order 'nope' not found in this tenant's warehouse")
    assert contradiction == (422, "validation_failed", "min_total 10 is greater than max_total 5")
