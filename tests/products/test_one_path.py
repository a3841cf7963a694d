"""``ecomops products`` answers alike through a running server and here, and as the API does."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ecomops.cli import app
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.products import service
from ecomops.products.cli import Sort
from tests.one_path import cli_failure, cli_json, http_failure, serving
from tests.products.test_products import seed_products

runner = CliRunner()
LIST = ["products", "list", "--tenant", "acme", "--sort", "margin", "--json"]
SHOW = ["products", "show", "p1", "--tenant", "acme", "--from", "2026-11-01", "--json"]
MISSING = ["products", "show", "p9", "--tenant", "acme"]


def _run_all() -> tuple[object, ...]:
    return (
        cli_json(*LIST),
        cli_json(*SHOW),
        cli_failure(*MISSING),
    )


def test_products_cli_answers_alike_here_through_the_server_and_over_http(
    data_dir: Path, settings: Settings, tenant: TenantInfo
) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_products(wh)
    wh.close()
    with serving(data_dir, "acme") as api:
        over_http = (
            api.get("/products", params={"sort": "margin", "limit": 20}).json(),  # the CLI's page
            api.get("/products/p1", params={"date_from": "2026-11-01"}).json(),
            http_failure(api.get("/products/p9")),
        )
        through_server = _run_all()
    here = _run_all()
    assert through_server == here == over_http
    page, product, missing = here
    assert page["items"][0]["product_id"] == "p1" and page["items"][0]["margin_rate"] == "0.6667"
    assert product["window"] == {"date_from": "2026-11-01"} and product["rating_histogram"] == {
        "4": 1,
        "5": 1,
    }
    assert missing == (404, "not_found", "product 'p9' not found in this tenant's catalogue")


def test_the_cli_offers_exactly_the_service_sorts() -> None:
    """A sort the service does not know is refused by the command line before either path runs."""
    assert [s.value for s in Sort] == list(service.SORTS)
    refused = runner.invoke(app, ["products", "list", "--tenant", "acme", "--sort", "price"])
    assert refused.exit_code == 2 and "price" in refused.output
