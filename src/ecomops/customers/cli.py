"""``ecomops customers list|show``: the customer API from the command line.

Through the running server when there is one (it owns the warehouse; the local control token acts
as owner, so ``--reveal`` is allowed and audited there, via ``local``); otherwise the warehouse file
is opened read-only here and the same service function audits a reveal as the OS user (via ``cli``).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Annotated, Any, cast

import typer
from rich.table import Table

from ecomops.customers import service
from ecomops.customers.query import DEFAULT_SORT, SORTS, CustomerQuery, Direction
from ecomops.customers.results import CustomerPage, CustomerProfile, PiiView
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import (
    ExportLang,
    ExportOutput,
    cli_errors,
    console,
    here_or_server,
    parse_day,
    parse_export_format,
    print_json,
    save_export,
    tenant_info,
)

customers_app = typer.Typer(
    help="Customers: list and profiles (PII masked unless --reveal).", no_args_is_help=True
)


def _params(query: CustomerQuery) -> dict[str, Any]:
    """The query as the API's query parameters (only those set; dates and amounts as text)."""
    return {k: str(v) for k, v in asdict(query).items() if v is not None}


def fetch_list(tenant: str, query: CustomerQuery, *, limit: int, offset: int, reveal: bool) -> CustomerPage:
    return here_or_server(
        remote=lambda client: client.call(
            "GET",
            tenant_path(tenant, "customers"),
            CustomerPage,
            params={**_params(query), "limit": limit, "offset": offset, "reveal": reveal},
        ),
        local=lambda state: service.find_customers(
            state,
            tenant_info(state, tenant),
            query=query,
            limit=limit,
            offset=offset,
            reveal=reveal,
            via="cli",
        ),
    )


def fetch_profile(tenant: str, customer_id: str, *, reveal: bool) -> CustomerProfile:
    return here_or_server(
        remote=lambda client: client.call(
            "GET", tenant_path(tenant, "customers", customer_id), CustomerProfile, params={"reveal": reveal}
        ),
        local=lambda state: service.find_customer(
            state, tenant_info(state, tenant), customer_id, reveal=reveal, via="cli"
        ),
    )


def _pii_text(pii: PiiView | None) -> str:
    if not pii:
        return ""
    parts = [pii.name or " ".join(p for p in (pii.first_name, pii.last_name) if p), pii.email, pii.phone]
    return "  ".join(p for p in parts if p)


@customers_app.command("list")
def list_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    search: Annotated[
        str | None,
        typer.Option(help="An email or phone (exact, via the blind index; audited) or part of a customer id"),
    ] = None,
    email: Annotated[str | None, typer.Option(help="Only the customer(s) with this email")] = None,
    phone: Annotated[str | None, typer.Option(help="Only the customer(s) with this phone")] = None,
    channel: Annotated[str | None, typer.Option(help="Acquisition channel, exactly")] = None,
    country: Annotated[str | None, typer.Option(help="Country, exactly")] = None,
    region: Annotated[str | None, typer.Option(help="Region, exactly")] = None,
    city: Annotated[str | None, typer.Option(help="City, exactly")] = None,
    first_order_from: Annotated[str | None, typer.Option(help="First order on/after YYYY-MM-DD")] = None,
    first_order_to: Annotated[str | None, typer.Option(help="First order on/before YYYY-MM-DD")] = None,
    last_order_from: Annotated[str | None, typer.Option(help="Last order on/after YYYY-MM-DD")] = None,
    last_order_to: Annotated[str | None, typer.Option(help="Last order on/before YYYY-MM-DD")] = None,
    min_orders: Annotated[int | None, typer.Option(min=0, help="At least this many orders")] = None,
    max_orders: Annotated[int | None, typer.Option(min=0, help="At most this many orders")] = None,
    min_spend: Annotated[str | None, typer.Option(help="Spend at least")] = None,
    max_spend: Annotated[str | None, typer.Option(help="Spend at most")] = None,
    sort: Annotated[str, typer.Option(help=f"One of {', '.join(SORTS)}")] = DEFAULT_SORT,
    order: Annotated[str, typer.Option(help="asc or desc")] = "desc",
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_PAGE)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show PII in clear text (audited)")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="csv or xlsx: every matching customer as a file (audited)")
    ] = None,
    output: ExportOutput = None,
    lang: ExportLang = "en",
) -> None:
    """Customers (default: most recently seen first) with order counts, spend and (masked) contact data."""
    fmt = parse_export_format(format, output)
    with cli_errors():
        query = CustomerQuery(
            search,
            email,
            phone,
            channel,
            country,
            region,
            city,
            parse_day(first_order_from, "--first-order-from"),
            parse_day(first_order_to, "--first-order-to"),
            parse_day(last_order_from, "--last-order-from"),
            parse_day(last_order_to, "--last-order-to"),
            min_orders,
            max_orders,
            _amount(min_spend, "--min-spend"),
            _amount(max_spend, "--max-spend"),
            sort,
            cast(Direction, order),  # checked by validate(): a clear error for anything else
        )
        query.validate()
        if fmt is not None:
            save_export(
                fmt,
                output,
                path=tenant_path(tenant, "customers"),
                params={**_params(query), "reveal": reveal},
                local=lambda state: service.export_customers(
                    state, tenant_info(state, tenant), query, fmt, reveal=reveal, via="cli"
                ),
                language=lang,
            )
            return
        page = fetch_list(tenant, query, limit=limit, offset=offset, reveal=reveal)
    if json_out:
        print_json(json_form(page, CustomerPage))
        return
    table = Table("customer", "orders", "spend", "last seen", "country", "contact")
    for item in page.items:
        table.add_row(
            item.customer_id,
            str(item.orders_count),
            str(item.spend),
            str(item.last_seen_at or ""),
            item.country or "",
            _pii_text(item.pii),
        )
    console.print(table)
    shown = offset + len(page.items)
    console.print(
        f"{len(page.items)} of {page.total} customer(s)" + (" (more: --offset)" if shown < page.total else "")
    )


def _amount(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        raise typer.BadParameter(f"{value!r} is not a number", param_hint=option) from None


@customers_app.command("show")
def show_command(
    customer_id: Annotated[str, typer.Argument(help="The pseudonymous customer id")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    reveal: Annotated[bool, typer.Option("--reveal", help="Show PII in clear text (audited)")] = False,
) -> None:
    """A customer's profile as JSON: attributes, orders summary with recent orders, PII."""
    with cli_errors():
        profile = fetch_profile(tenant, customer_id, reveal=reveal)
    print_json(json_form(profile, CustomerProfile))
