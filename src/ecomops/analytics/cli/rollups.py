"""``ecomops rollups status|rebuild``: the tenant's metric rollups, through the server when one runs.

Both commands run the use cases behind ``/api/v1/t/{tenant}/metrics/rollups`` (and ``…/rebuild``) in
``analytics.service``: through those routes while ``ecomops serve`` owns the tenant's DuckDB file, else
here on the file (read-only for ``status``, writable for ``rebuild``). A rebuild is audited either way,
by the service.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ecomops.analytics import service
from ecomops.analytics.results import RollupStatus
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info

rollups_app = typer.Typer(
    help="Metric rollups: the hourly aggregates dashboards read (see docs/architecture.md).",
    no_args_is_help=True,
)

#: A rebuild of a large shop takes minutes on a busy machine.
REBUILD_TIMEOUT_S = 1800.0


def _print(status: RollupStatus, json_out: bool) -> None:
    if json_out:
        print_json(json_form(status, RollupStatus))
        return
    rebuilt = status.rebuilt_at.isoformat() if status.rebuilt_at else None
    refreshed = status.refreshed_at.isoformat() if status.refreshed_at else None
    console.print(
        f"ready: {status.ready}  rebuilt: {rebuilt}  refreshed: {refreshed}  "
        f"hours refreshed since rebuild: {status.hours_refreshed}"
    )
    console.print(
        f"day rollups in: {status.day_zone or '– (built at the first metrics request)'}  "
        f"maintenance version: {status.version}"
    )
    for table, n in status.rows.items():
        console.print(f"  {table}: {n:,} rows")


@rollups_app.command("status")
def status_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Whether the rollups are built, when they were last rebuilt/refreshed and their row counts."""
    with cli_errors():
        status = here_or_server(
            remote=lambda client: client.call("GET", tenant_path(tenant, "metrics", "rollups"), RollupStatus),
            local=lambda state: service.rollup_status(state, tenant_info(state, tenant)),
        )
    _print(status, json_out)


@rollups_app.command("rebuild")
def rebuild_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Recompute every rollup from the raw facts (after facts changed outside ingest, imports or seeds)."""
    with cli_errors():
        status = here_or_server(
            remote=lambda client: client.call(
                "POST",
                tenant_path(tenant, "metrics", "rollups", "rebuild"),
                RollupStatus,
                timeout=REBUILD_TIMEOUT_S,
            ),
            local=lambda state: service.rebuild_rollups(state, tenant_info(state, tenant)),
            writable=True,
        )
    _print(status, json_out)
