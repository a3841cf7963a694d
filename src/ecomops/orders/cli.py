"""``ecomops orders list|show``: the orders explorer from the command line.

Through the running server's API when one runs (it owns the warehouse file), otherwise on the file
opened read-only here (``here_or_server``); both paths run ``orders.service.find_orders``/``find_order``
and get the same typed results, so answers and errors are the same.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from ecomops.kernel.jsonutil import json_form
from ecomops.orders import service
from ecomops.orders.results import OrderDetail, OrderPage
from ecomops.platform import tenants
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import (
    ExportLang,
    ExportOutput,
    cli_errors,
    console,
    engine,
    err_console,
    here_or_server,
    parse_day,
    parse_export_format,
    print_json,
    save_export,
    tenant_info,
)

orders_app = typer.Typer(help="Orders explorer: filtered lists and order details.", no_args_is_help=True)


def fetch_orders(tenant: str, filters: service.OrderFilters, *, limit: int, cursor: str | None) -> OrderPage:
    return here_or_server(
        remote=lambda client: client.call(
            "GET",
            tenant_path(tenant, "orders"),
            OrderPage,
            params={**filters.active(), "limit": limit, "cursor": cursor},
        ),
        local=lambda state: service.find_orders(
            state, tenant_info(state, tenant), filters, limit=limit, cursor=cursor
        ),
    )


def fetch_order(tenant: str, order_id: str) -> OrderDetail:
    return here_or_server(
        remote=lambda client: client.call("GET", tenant_path(tenant, "orders", order_id), OrderDetail),
        local=lambda state: service.find_order(state, tenant_info(state, tenant), order_id),
    )


def _local_time(value: datetime | None, tz: str) -> str:
    if value is None:
        return ""
    return str(value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"))


@orders_app.command("list")
def list_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day YYYY-MM-DD (tenant time zone)")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day YYYY-MM-DD, inclusive")] = None,
    channel: Annotated[str | None, typer.Option(help="Channel, e.g. web, douyin, tmall")] = None,
    status: Annotated[str | None, typer.Option(help="Status, e.g. paid, refunded, cancelled")] = None,
    min_total: Annotated[str | None, typer.Option(help="Smallest order total")] = None,
    max_total: Annotated[str | None, typer.Option(help="Largest order total")] = None,
    customer: Annotated[str | None, typer.Option(help="Customer id (pseudonymous)")] = None,
    coupon: Annotated[str | None, typer.Option(help="Coupon code")] = None,
    utm_source: Annotated[
        str | None, typer.Option(help='UTM source, exact; "(none)" = orders without one')
    ] = None,
    utm_medium: Annotated[
        str | None, typer.Option(help='UTM medium, exact; "(none)" = orders without one')
    ] = None,
    utm_campaign: Annotated[
        str | None,
        typer.Option(
            help='UTM campaign, exact (as in `metrics --breakdown campaign`); "(none)" = without one'
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_PAGE, help="Orders per page")] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor printed by the previous page")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="csv or xlsx: every matching order as a file (audited)")
    ] = None,
    output: ExportOutput = None,
    lang: ExportLang = "en",
) -> None:
    """List orders, newest first; filters combine with AND."""
    fmt = parse_export_format(format, output)
    with cli_errors():
        filters = service.OrderFilters(
            parse_day(date_from, "--from"),
            parse_day(date_to, "--to"),
            channel,
            status,
            _money(min_total, "--min-total"),
            _money(max_total, "--max-total"),
            customer,
            coupon,
            utm_source=utm_source,
            utm_medium=utm_medium,
            utm_campaign=utm_campaign,
        )
        if fmt is not None:
            filters.validate()
            save_export(
                fmt,
                output,
                path=tenant_path(tenant, "orders"),
                params=filters.active(),
                local=lambda state: service.export_orders(
                    state, tenant_info(state, tenant), filters, fmt, via="cli"
                ),
                language=lang,
            )
            return
        page = fetch_orders(tenant, filters, limit=limit, cursor=cursor)
        tz = tenants.get_tenant(engine(), tenant).timezone
    if as_json:
        print_json(json_form(page, OrderPage))
        return
    table = Table("order", "ordered at", "status", "channel", "customer", "total", "coupon", "items")
    for o in page.items:
        table.add_row(
            o.order_id,
            _local_time(o.ordered_at, tz),
            o.status,
            o.channel or "",
            o.customer_id or "",
            f"{o.total} {o.currency}",
            o.coupon or "",
            str(o.items_count),
        )
    console.print(table)
    err_console.print(f"[dim]{len(page.items)} of {page.total} order(s); times in {tz}[/dim]")
    if page.next_cursor:
        err_console.print(f"[dim]next page: --cursor {page.next_cursor}[/dim]")


@orders_app.command("show")
def show_command(
    order_id: Annotated[str, typer.Argument(help="Order id")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """One order with its lines, refunds and payments."""
    with cli_errors():
        order = fetch_order(tenant, order_id)
        tz = tenants.get_tenant(engine(), tenant).timezone
    if as_json:
        print_json(json_form(order, OrderDetail))
        return
    console.print(
        f"[bold]{order.order_id}[/bold] {order.status} · {order.channel or '-'} · "
        f"{_local_time(order.ordered_at, tz)} ({tz})"
    )
    console.print(
        f"customer {order.customer_id or '-'} · coupon {order.coupon or '-'} · "
        f"total {order.total} {order.currency} "
        f"(discount {order.discount}, shipping {order.shipping})"
    )
    items = Table("sku", "name", "qty", "unit price", "line total", title="items")
    for i in order.items:
        items.add_row(i.sku or "", i.name or "", str(i.quantity), str(i.unit_price), str(i.line_total))
    console.print(items)
    if order.refunds:
        refunds = Table("refund", "at", "amount", "reason", title="refunds")
        for r in order.refunds:
            amount = "" if r.amount is None else str(r.amount)
            refunds.add_row(r.refund_id, _local_time(r.refunded_at, tz), amount, r.reason or "")
        console.print(refunds)


def _money(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise typer.BadParameter(f"{value!r} is not a number", param_hint=option) from None
    if not amount.is_finite() or amount < 0:
        raise typer.BadParameter(f"{value!r} must be a non-negative amount", param_hint=option)
    return amount
