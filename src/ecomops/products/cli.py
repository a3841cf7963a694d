"""``ecomops products list|show``: product analytics from the command line (through the server when
one runs, else on the warehouse file opened read-only)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer
from rich.table import Table

from ecomops.kernel.jsonutil import money_strings
from ecomops.platform.commandline import (
    cli_errors,
    console,
    err_console,
    on_warehouse,
    parse_day,
    print_json,
    settings,
)
from ecomops.platform.server import call_server, running_server
from ecomops.products import service

products_app = typer.Typer(help="Product analytics: sales, stock, margin, reviews.", no_args_is_help=True)


def _jsonable(page: dict[str, Any]) -> dict[str, Any]:
    """Same shape as the API's JSON (decimals and times as strings)."""
    shaped: dict[str, Any] = json.loads(json.dumps(money_strings(page), default=str))
    return shaped


def fetch_products(
    tenant: str, filters: service.ProductFilters, *, sort: str, limit: int, offset: int
) -> dict[str, Any]:
    server = running_server(settings())
    if server is not None:
        params = {**filters.active(), "sort": sort, "limit": limit, "offset": offset}
        result: dict[str, Any] = call_server(
            server, "GET", f"/api/v1/t/{quote(tenant)}/products?{urlencode(params)}"
        )
        return result
    return _jsonable(
        on_warehouse(
            tenant,
            lambda cur, info: service.list_products(
                cur, info.timezone, filters, sort=sort, limit=limit, offset=offset
            ),
        )
    )


def fetch_product(tenant: str, product_id: str, filters: service.ProductFilters) -> dict[str, Any]:
    server = running_server(settings())
    if server is not None:
        query = urlencode(filters.active())
        result: dict[str, Any] = call_server(
            server, "GET", f"/api/v1/t/{quote(tenant)}/products/{quote(product_id, safe='')}?{query}"
        )
        return result
    return _jsonable(
        on_warehouse(tenant, lambda cur, info: service.get_product(cur, info.timezone, product_id, filters))
    )


def _pct(rate: str | None) -> str:
    return "" if rate is None else f"{float(rate) * 100:.1f}%"


@products_app.command("list")
def list_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    date_from: Annotated[str | None, typer.Option("--from", help="Sales window start YYYY-MM-DD")] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Sales window end YYYY-MM-DD, inclusive")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Category")] = None,
    search: Annotated[str | None, typer.Option(help="Part of the name or SKU")] = None,
    sort: Annotated[str, typer.Option(help="revenue, units, stock, rating, margin or name")] = "revenue",
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_PAGE)] = 20,
    offset: Annotated[int, typer.Option(min=0, max=service.MAX_OFFSET)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List products with units sold, revenue, margin, stock on hand and reviews."""
    with cli_errors():
        filters = service.ProductFilters(
            parse_day(date_from, "--from"), parse_day(date_to, "--to"), category, search
        )
        filters.validate()
        page = fetch_products(tenant, filters, sort=sort, limit=limit, offset=offset)
    if as_json:
        print_json(page)
        return
    table = Table("product", "sku", "name", "units", "revenue", "margin", "stock", "reviews", "rating")
    for p in page["items"]:
        table.add_row(
            p["product_id"],
            p["sku"] or "",
            (p["name"] or "")[:40],
            str(p["units_sold"]),
            f"{p['revenue']} {p['currency'] or ''}",
            _pct(p["margin_rate"]),
            "" if p["stock_on_hand"] is None else str(p["stock_on_hand"]),
            str(p["review_count"]),
            "" if p["avg_rating"] is None else f"{p['avg_rating']:.2f}",
        )
    console.print(table)
    err_console.print(
        f"[dim]{len(page['items'])} of {page['total']} product(s), offset {page['offset']}[/dim]"
    )


@products_app.command("show")
def show_command(
    product_id: Annotated[str, typer.Argument(help="Product id")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    date_from: Annotated[str | None, typer.Option("--from", help="Sales window start YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Sales window end, inclusive")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """One product: sales by channel, stock by warehouse, recent reviews."""
    with cli_errors():
        filters = service.ProductFilters(parse_day(date_from, "--from"), parse_day(date_to, "--to"))
        filters.validate()
        p = fetch_product(tenant, product_id, filters)
    if as_json:
        print_json(p)
        return
    console.print(
        f"[bold]{p['name']}[/bold] ({p['sku']}) · {p['category'] or '-'} · {p['price']} {p['currency']}"
    )
    console.print(
        f"units {p['units_sold']} · revenue {p['revenue']} · refunded {p['refunded']} · "
        f"margin {p['gross_margin'] or '-'} {_pct(p['margin_rate'])} · stock {p['stock_on_hand']}"
    )
    channels = Table("channel", "units", "revenue", "orders", title="sales by channel")
    for c in p["by_channel"]:
        channels.add_row(c["channel"], str(c["units_sold"]), c["revenue"], str(c["orders"]))
    console.print(channels)
    stock = Table("warehouse", "on hand", "reserved", "as of", title="stock")
    for s in p["stock"]:
        stock.add_row(s["warehouse_code"], str(s["on_hand"]), str(s["reserved"]), str(s["snapshot_at"]))
    console.print(stock)
