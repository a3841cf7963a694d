"""``ecomops customers list|show``: the customer API from the command line.

Through the running server when there is one (it owns the warehouse; the local control token acts
as owner, so ``--reveal`` is allowed and audited there, via ``local``); otherwise the warehouse file
is opened read-only here and the same service function audits a reveal as the OS user (via ``cli``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ecomops.customers import service
from ecomops.customers.results import CustomerPage, CustomerProfile, PiiView
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info

customers_app = typer.Typer(
    help="Customers: list and profiles (PII masked unless --reveal).", no_args_is_help=True
)


def fetch_list(
    tenant: str, *, limit: int, offset: int, email: str | None, phone: str | None, reveal: bool
) -> CustomerPage:
    return here_or_server(
        remote=lambda client: client.call(
            "GET",
            tenant_path(tenant, "customers"),
            CustomerPage,
            params={"limit": limit, "offset": offset, "email": email, "phone": phone, "reveal": reveal},
        ),
        local=lambda state: service.find_customers(
            state,
            tenant_info(state, tenant),
            limit=limit,
            offset=offset,
            email=email,
            phone=phone,
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
    email: Annotated[str | None, typer.Option(help="Only the customer(s) with this email")] = None,
    phone: Annotated[str | None, typer.Option(help="Only the customer(s) with this phone")] = None,
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_PAGE)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show PII in clear text (audited)")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Customers, most recently seen first, with order counts, spend and (masked) contact data."""
    with cli_errors():
        page = fetch_list(tenant, limit=limit, offset=offset, email=email, phone=phone, reveal=reveal)
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
