"""``ecomops products list|show|trend``: product analytics from the command line.

Through the server when one runs, else on the warehouse file opened read-only (``here_or_server``);
both paths run ``products.service.find_products``/``find_product``/``find_trend`` and get the same
typed results.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from ecomops.kernel.clock import utcnow
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import (
    ExportLang,
    ExportOutput,
    cli_errors,
    console,
    err_console,
    here_or_server,
    parse_day,
    parse_export_format,
    print_json,
    save_export,
    tenant_info,
)
from ecomops.platform.web.state import AppState
from ecomops.products import service
from ecomops.products.results import ProductDetail, ProductPage, ProductTrend


class Sort(StrEnum):
    """``service.SORTS``, as choices the command line checks before either path runs."""

    revenue = "revenue"
    units = "units"
    stock = "stock"
    rating = "rating"
    margin = "margin"
    name = "name"


products_app = typer.Typer(help="Product analytics: sales, stock, margin, reviews.", no_args_is_help=True)


def fetch_products(
    tenant: str, filters: service.ProductFilters, *, sort: str, limit: int, offset: int
) -> ProductPage:
    return here_or_server(
        remote=lambda client: client.call(
            "GET",
            tenant_path(tenant, "products"),
            ProductPage,
            params={**filters.active(), "sort": sort, "limit": limit, "offset": offset},
        ),
        local=lambda state: service.find_products(
            state, tenant_info(state, tenant), filters, sort=sort, limit=limit, offset=offset
        ),
    )


def fetch_product(tenant: str, product_id: str, filters: service.ProductFilters) -> ProductDetail:
    return here_or_server(
        remote=lambda client: client.call(
            "GET", tenant_path(tenant, "products", product_id), ProductDetail, params=filters.active()
        ),
        local=lambda state: service.find_product(state, tenant_info(state, tenant), product_id, filters),
    )


def _pct(rate: Decimal | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


@products_app.command("list")
def list_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    date_from: Annotated[str | None, typer.Option("--from", help="Sales window start YYYY-MM-DD")] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Sales window end YYYY-MM-DD, inclusive")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Category")] = None,
    search: Annotated[str | None, typer.Option(help="Part of the name or SKU")] = None,
    sort: Annotated[Sort, typer.Option(help="Order of the list")] = Sort.revenue,
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_PAGE)] = 20,
    offset: Annotated[int, typer.Option(min=0, max=service.MAX_OFFSET)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="csv or xlsx: every matching product as a file (audited)")
    ] = None,
    output: ExportOutput = None,
    lang: ExportLang = "en",
) -> None:
    """List products with units sold, revenue, margin, stock on hand and reviews."""
    fmt = parse_export_format(format, output)
    with cli_errors():
        filters = service.ProductFilters(
            parse_day(date_from, "--from"), parse_day(date_to, "--to"), category, search
        )
        if fmt is not None:
            filters.validate()
            save_export(
                fmt,
                output,
                path=tenant_path(tenant, "products"),
                params={**filters.active(), "sort": sort.value},
                local=lambda state: service.export_products(
                    state, tenant_info(state, tenant), filters, fmt, sort=sort.value, via="cli"
                ),
                language=lang,
            )
            return
        page = fetch_products(tenant, filters, sort=sort, limit=limit, offset=offset)
    if as_json:
        print_json(json_form(page, ProductPage))
        return
    table = Table("product", "sku", "name", "units", "revenue", "margin", "stock", "reviews", "rating")
    for p in page.items:
        table.add_row(
            p.product_id,
            p.sku or "",
            (p.name or "")[:40],
            str(p.units_sold),
            f"{p.revenue} {p.currency or ''}",
            _pct(p.margin_rate),
            "" if p.stock_on_hand is None else str(p.stock_on_hand),
            str(p.review_count),
            "" if p.avg_rating is None else f"{p.avg_rating:.2f}",
        )
    console.print(table)
    err_console.print(f"[dim]{len(page.items)} of {page.total} product(s), offset {page.offset}[/dim]")


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
        p = fetch_product(tenant, product_id, filters)
    if as_json:
        print_json(json_form(p, ProductDetail))
        return
    console.print(f"[bold]{p.name}[/bold] ({p.sku}) · {p.category or '-'} · {p.price} {p.currency}")
    margin = "-" if p.gross_margin is None else str(p.gross_margin)
    console.print(
        f"units {p.units_sold} · revenue {p.revenue} · refunded {p.refunded} · "
        f"margin {margin} {_pct(p.margin_rate)} · stock {p.stock_on_hand}"
    )
    if p.first_sold_at is not None:
        console.print(
            f"sold {p.first_sold_at:%Y-%m-%d} … {p.last_sold_at:%Y-%m-%d} · "
            f"prices {p.min_price} … {p.max_price}"
        )
    channels = Table("channel", "units", "revenue", "orders", title="sales by channel")
    for c in p.by_channel:
        channels.add_row(c.channel, str(c.units_sold), str(c.revenue), str(c.orders))
    console.print(channels)
    stock = Table("warehouse", "on hand", "reserved", "as of", title="stock")
    for s in p.stock:
        stock.add_row(s.warehouse_code, str(s.on_hand), str(s.reserved), str(s.snapshot_at))
    console.print(stock)


def fetch_trend(tenant: str, product_id: str, first: date | None, last: date | None) -> ProductTrend:
    window = {k: v.isoformat() for k, v in (("date_from", first), ("date_to", last)) if v is not None}

    def local(state: AppState) -> ProductTrend:
        info = tenant_info(state, tenant)
        today = utcnow().astimezone(ZoneInfo(info.timezone)).date()
        return service.find_trend(state, info, product_id, first, last, today)

    return here_or_server(
        remote=lambda client: client.call(
            "GET", tenant_path(tenant, "products", product_id, "trend"), ProductTrend, params=window
        ),
        local=local,
    )


@products_app.command("trend")
def trend_command(
    product_id: Annotated[str, typer.Argument(help="Product id")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    date_from: Annotated[
        str | None, typer.Option("--from", help="First local day (default: 30 days)")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last local day, inclusive (default: today)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A product's daily units, revenue and orders (views, add-to-carts) beside the previous period."""
    with cli_errors():
        trend = fetch_trend(tenant, product_id, parse_day(date_from, "--from"), parse_day(date_to, "--to"))
    if as_json:
        print_json(json_form(trend, ProductTrend))
        return
    columns = ["day", "units", "revenue", "orders", "prev day", "prev units", "prev revenue", "prev orders"]
    table = Table(*columns, *(["views", "add to cart"] if trend.has_events else []))
    for d in trend.days:
        row = [
            d.day.isoformat(),
            str(d.units_sold),
            str(d.revenue),
            str(d.orders),
            d.previous_day.isoformat(),
        ]
        row += [str(d.previous_units_sold), str(d.previous_revenue), str(d.previous_orders)]
        table.add_row(*row, *([str(d.views), str(d.add_to_cart)] if trend.has_events else []))
    console.print(table)
    console.print(
        f"units {trend.total_units_sold} (previous {trend.previous_units_sold}) · "
        f"revenue {trend.total_revenue} (previous {trend.previous_revenue}) · "
        f"orders {trend.total_orders} (previous {trend.previous_orders})"
    )
