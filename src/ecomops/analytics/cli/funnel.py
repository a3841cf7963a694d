"""``ecomops funnel``: the conversion funnel of a tenant, through the server when one runs.

Like ``ecomops metrics``: while ``ecomops serve`` owns the warehouse file the request goes to
``GET /api/v1/t/{tenant}/funnel``; otherwise the file is opened read-only here.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import typer
from rich.table import Table

from ecomops.analytics import funnel
from ecomops.analytics.cli.metrics import OutputFormat, _parse_day
from ecomops.kernel.errors import NotFound
from ecomops.platform import tenants
from ecomops.platform.commandline import cli_errors, console, print_json, settings
from ecomops.platform.commandline import engine as store_engine
from ecomops.platform.server import call_server, running_server
from ecomops.platform.warehouse.connection import connect, warehouse_path


def funnel_local(tenant: str, from_: str | None, to: str | None, timezone: str | None) -> dict[str, Any]:
    info = tenants.get_tenant(store_engine(), tenant)
    path = warehouse_path(settings().warehouse_dir(), info.id)
    if not path.exists():
        raise NotFound(f"tenant {tenant!r} has no warehouse file yet", {"path": str(path)})
    first, last, zone = funnel.window(info, _parse_day(from_, "--from"), _parse_day(to, "--to"), timezone)
    con = connect(path, read_only=True)
    try:
        return funnel.compute(con, first, last, zone).as_dict()
    finally:
        con.close()


def funnel_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    from_: Annotated[str | None, typer.Option("--from", help="First local day YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last local day YYYY-MM-DD (inclusive)")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the days (default: tenant's)")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json")] = OutputFormat.table,
) -> None:
    """Conversion funnel: visitors → product views → add to cart → checkout → orders (distinct visitors)."""
    with cli_errors():
        _parse_day(from_, "--from")
        _parse_day(to, "--to")
        server = running_server(settings())
        if server is not None:
            params = {k: v for k, v in (("from", from_), ("to", to), ("timezone", timezone)) if v}
            query = f"?{urlencode(params)}" if params else ""
            payload: dict[str, Any] = call_server(server, "GET", f"/api/v1/t/{tenant}/funnel{query}")
        else:
            payload = funnel_local(tenant, from_, to, timezone)
    if fmt is not OutputFormat.table:
        print_json(payload)
        return
    table = Table(
        "step",
        "visitors",
        "of previous",
        "of all visitors",
        title=f"{tenant} {payload['from']} → {payload['to']} ({payload['timezone']})",
    )
    for step in payload["steps"]:
        table.add_row(
            step["id"],
            str(step["visitors"]),
            "" if step["step_rate"] is None else f"{step['step_rate']:.1%}",
            "" if step["overall_rate"] is None else f"{step['overall_rate']:.1%}",
        )
    console.print(table)
    if not payload["available"]:
        console.print("[yellow]no page or screen events in this window[/yellow]")
