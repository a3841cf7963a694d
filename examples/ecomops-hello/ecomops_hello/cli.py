"""``ecomops hello notes|add|delete|daily``: the hello module from the shell.

Every command takes the one path the platform prescribes (``here_or_server``): through the running
server's API when one runs (it owns the warehouses, and its answer is decoded into the same types the
service returns), else right here on the same service functions. On both paths a shop that switched
the module off gets the same 404.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import TypeAdapter
from rich.table import Table

from ecomops.kernel.errors import NotFound
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info
from ecomops.platform.context import TenantInfo, current
from ecomops.platform.enablement import check_enabled
from ecomops.platform.warehouse.schema import applied_versions
from ecomops.platform.web.state import AppState
from ecomops_hello import service

NAME = "hello"
hello_app = typer.Typer(
    help="The example module: a shop's notes and its orders per day.", no_args_is_help=True
)
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _json(kind: Any, value: object) -> Any:
    """``--json`` prints exactly what the API answers for the same call."""
    return TypeAdapter(kind).dump_python(value, mode="json")


def _shop(state: AppState, slug: str) -> TenantInfo:
    """The tenant of a local run, refused like the API refuses it when the module is off."""
    tenant = tenant_info(state, slug)
    check_enabled(state, tenant.id, NAME)
    return tenant


@hello_app.command("notes")
def notes_command(tenant: Tenant, json_out: Json = False) -> None:
    """The shop's notes, newest first."""
    with cli_errors():
        notes = here_or_server(
            remote=lambda c: c.call("GET", tenant_path(tenant, NAME, "notes"), list[service.Note]),
            local=lambda s: service.list_notes(s.engine, _shop(s, tenant).id),
        )
    if json_out:
        print_json(_json(list[service.Note], notes))
        return
    table = Table("note", "by", "when (UTC)")
    table.add_column("id", no_wrap=True)
    for n in notes:
        table.add_row(n.body, n.created_by, n.created_at.isoformat(timespec="minutes"), n.id)
    console.print(table if notes else f"no notes in {tenant}")


@hello_app.command("add")
def add_command(
    body: Annotated[str, typer.Argument(help="The note's text")], tenant: Tenant, json_out: Json = False
) -> None:
    """Keep a note (audited)."""
    with cli_errors():
        note = here_or_server(
            remote=lambda c: c.call(
                "POST", tenant_path(tenant, NAME, "notes"), service.Note, json={"body": body}
            ),
            local=lambda s: service.add_note(s.engine, _shop(s, tenant).id, body, current().actor),
        )
    if json_out:
        print_json(_json(service.Note, note))
    else:
        console.print(f"note [bold]{note.id}[/bold] kept in {tenant}")


@hello_app.command("delete")
def delete_command(
    note_id: Annotated[str, typer.Argument(help="Note id (see `ecomops hello notes`)")], tenant: Tenant
) -> None:
    """Delete a note (audited)."""
    with cli_errors():
        here_or_server(
            remote=lambda c: c.call("DELETE", tenant_path(tenant, NAME, "notes", note_id)),
            local=lambda s: service.delete_note(s.engine, _shop(s, tenant).id, note_id),
        )
    console.print(f"note {note_id} deleted from {tenant}")


def _local_daily(state: AppState, slug: str, days: int) -> list[service.DayCount]:
    """Read-only open: a file no writer opened since the module was installed lacks its table."""
    shop = _shop(state, slug)
    cur = state.warehouses.get(shop.id).cursor()
    try:
        if applied_versions(cur).get(NAME, 0) < 1:
            raise NotFound(
                f"the warehouse of {slug} has no hello table yet: it is added the next time the server "
                "(or a writing command) opens the file",
                {"module": NAME},
            )
        return service.daily_orders(cur, days)
    finally:
        cur.close()


@hello_app.command("daily")
def daily_command(
    tenant: Tenant,
    days: Annotated[int, typer.Option(min=1, max=service.MAX_DAYS, help="Days with orders to list")] = 14,
    json_out: Json = False,
) -> None:
    """Orders per day (UTC), newest first."""
    with cli_errors():
        counts = here_or_server(
            remote=lambda c: c.call(
                "GET", tenant_path(tenant, NAME, "daily"), list[service.DayCount], params={"days": days}
            ),
            local=lambda s: _local_daily(s, tenant, days),
        )
    if json_out:
        print_json(_json(list[service.DayCount], counts))
        return
    table = Table("day", "orders")
    for d in counts:
        table.add_row(d.day.isoformat(), str(d.orders))
    console.print(table if counts else f"no orders in {tenant} yet")
