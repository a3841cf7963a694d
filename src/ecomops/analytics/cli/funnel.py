"""``ecomops funnel``: the conversion funnel of a tenant, through the server when one runs.

Like ``ecomops metrics``: the command runs ``analytics.service.get_funnel`` — through
``GET /api/v1/t/{tenant}/funnel`` while ``ecomops serve`` owns the warehouse file, else here on the file
opened read-only — and ``--format json`` prints the API's JSON.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ecomops.analytics import service
from ecomops.analytics.cli.metrics import OutputFormat, parse_day
from ecomops.analytics.funnel import Funnel
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info


def funnel_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    from_: Annotated[str | None, typer.Option("--from", help="First local day YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last local day YYYY-MM-DD (inclusive)")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the days (default: tenant's)")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json")] = OutputFormat.table,
) -> None:
    """Conversion funnel: visitors → product views → add to cart → checkout → orders (distinct visitors)."""
    with cli_errors():
        first, last = parse_day(from_, "--from"), parse_day(to, "--to")
        result = here_or_server(
            remote=lambda client: client.call(
                "GET",
                tenant_path(tenant, "funnel"),
                Funnel,
                params={"from": first, "to": last, "timezone": timezone},
            ),
            local=lambda state: service.get_funnel(state, tenant_info(state, tenant), first, last, timezone),
        )
    if fmt is not OutputFormat.table:
        print_json(json_form(result, Funnel))
        return
    table = Table(
        "step",
        "visitors",
        "of previous",
        "of all visitors",
        title=f"{tenant} {result.first.isoformat()} → {result.last.isoformat()} ({result.timezone})",
    )
    for step in result.steps:
        table.add_row(
            step.id,
            str(step.visitors),
            "" if step.step_rate is None else f"{step.step_rate:.1%}",
            "" if step.overall_rate is None else f"{step.overall_rate:.1%}",
        )
    console.print(table)
    if not result.available:
        console.print("[yellow]no page or screen events in this window[/yellow]")
