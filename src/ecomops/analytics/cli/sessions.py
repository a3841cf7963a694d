"""``ecomops sessions``: session conversion by a session property, through the server when one runs.

Runs ``analytics.service.get_session_conversion`` — through ``GET /api/v1/t/{tenant}/sessions/conversion``
while ``ecomops serve`` owns the warehouse file, else here on the file — and ``--format json`` prints the
API's JSON.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ecomops.analytics import service
from ecomops.analytics.cli.metrics import OutputFormat, parse_day
from ecomops.analytics.sessions import BREAKDOWNS, SessionConversion, SessionRow
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info


def _row(table: Table, row: SessionRow) -> None:
    rate = "" if row.conversion_rate is None else f"{row.conversion_rate:.2%}"
    table.add_row(row.value, str(row.sessions), str(row.converted), rate)


def sessions_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    breakdown: Annotated[str | None, typer.Option(help=f"Split by one of: {', '.join(BREAKDOWNS)}")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First local day YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last local day YYYY-MM-DD (inclusive)")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the days (default: tenant's)")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json")] = OutputFormat.table,
) -> None:
    """Session conversion (imported session data): sessions, purchases and rate by month, traffic type…"""
    with cli_errors():
        first, last = parse_day(from_, "--from"), parse_day(to, "--to")
        result = here_or_server(
            remote=lambda client: client.call(
                "GET",
                tenant_path(tenant, "sessions", "conversion"),
                SessionConversion,
                params={"breakdown": breakdown, "from": first, "to": last, "timezone": timezone},
            ),
            local=lambda state: service.get_session_conversion(
                state, tenant_info(state, tenant), breakdown, first, last, timezone
            ),
        )
    if fmt is not OutputFormat.table:
        print_json(json_form(result, SessionConversion))
        return
    table = Table(result.breakdown or "sessions", "sessions", "converted", "conversion rate", title=tenant)
    for row in result.rows:
        _row(table, row)
    _row(table, result.total)
    console.print(table)
