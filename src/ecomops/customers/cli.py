"""``ecomops customers list|show``: the customer API from the command line.

Through the running server when there is one (it owns the warehouse; the local control token acts
as owner, so ``--reveal`` is allowed and audited there); otherwise the warehouse file is opened
read-only here and a reveal is audited by this process, as the OS user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer
from rich.table import Table

from ecomops.customers import service
from ecomops.kernel.errors import NotFound
from ecomops.platform import tenants
from ecomops.platform.commandline import cli_errors, console, engine, print_json, settings
from ecomops.platform.server import call_server, running_server
from ecomops.platform.warehouse.connection import connect, warehouse_path

customers_app = typer.Typer(
    help="Customers: list and profiles (PII masked unless --reveal).", no_args_is_help=True
)


@contextmanager
def _local_cursor(tenant_id: str, slug: str) -> Iterator[Any]:
    path = warehouse_path(settings().warehouse_dir(), tenant_id)
    if not path.exists():
        raise NotFound(f"tenant {slug!r} has no warehouse file yet", {"path": str(path)})
    conn = connect(path, read_only=True)
    try:
        yield conn
    finally:
        conn.close()


def fetch_list(
    tenant: str, *, limit: int, offset: int, email: str | None, phone: str | None, reveal: bool
) -> dict[str, Any]:
    server = running_server(settings())
    if server is not None:
        params: dict[str, Any] = {"limit": limit, "offset": offset, "reveal": str(reveal).lower()}
        if email is not None:
            params["email"] = email
        if phone is not None:
            params["phone"] = phone
        result: dict[str, Any] = call_server(
            server, "GET", f"/api/v1/t/{quote(tenant)}/customers?{urlencode(params)}"
        )
        return result
    eng = engine()
    info = tenants.get_tenant(eng, tenant)
    with _local_cursor(info.id, info.slug) as cur:
        page = service.list_customers(
            cur, eng, info.id, limit=limit, offset=offset, email=email, phone=phone, reveal=reveal
        )
    if reveal:
        service.audit_reveal(eng, info.id, [i["customer_id"] for i in page["items"] if i["pii"]], "cli")
    return page


def fetch_profile(tenant: str, customer_id: str, *, reveal: bool) -> dict[str, Any]:
    server = running_server(settings())
    if server is not None:
        query = urlencode({"reveal": str(reveal).lower()})
        result: dict[str, Any] = call_server(
            server, "GET", f"/api/v1/t/{quote(tenant)}/customers/{quote(customer_id, safe='')}?{query}"
        )
        return result
    eng = engine()
    info = tenants.get_tenant(eng, tenant)
    with _local_cursor(info.id, info.slug) as cur:
        profile = service.get_customer(cur, eng, info.id, customer_id, reveal=reveal)
    if reveal and profile["pii"]:
        service.audit_reveal(eng, info.id, [customer_id], "cli")
    return profile


def _pii_text(pii: dict[str, Any] | None) -> str:
    if not pii:
        return ""
    parts = [pii.get("name") or " ".join(p for p in (pii.get("first_name"), pii.get("last_name")) if p)]
    parts += [pii.get("email"), pii.get("phone")]
    return "  ".join(str(p) for p in parts if p)


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
        print_json(page)
        return
    table = Table("customer", "orders", "spend", "last seen", "country", "contact")
    for item in page["items"]:
        table.add_row(
            item["customer_id"],
            str(item["orders_count"]),
            item["spend"],
            str(item["last_seen_at"] or ""),
            item["country"] or "",
            _pii_text(item["pii"]),
        )
    console.print(table)
    shown = offset + len(page["items"])
    console.print(
        f"{len(page['items'])} of {page['total']} customer(s)"
        + (" (more: --offset)" if shown < page["total"] else "")
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
    print_json(json.loads(json.dumps(profile, default=str)))
