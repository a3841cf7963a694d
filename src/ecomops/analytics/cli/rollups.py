"""``ecomops rollups status|rebuild``: the tenant's metric rollups, through the server when one runs.

The running server owns the tenant's DuckDB file, so both commands go to its
``/api/v1/t/{tenant}/metrics/rollups`` routes with the local control token; without a server the file
is opened here (read-only for ``status``). A rebuild is audited either way.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ecomops.analytics import rollups
from ecomops.kernel.errors import NotFound
from ecomops.platform import tenants
from ecomops.platform.audit import record_action
from ecomops.platform.commandline import cli_errors, console, print_json, settings
from ecomops.platform.commandline import engine as store_engine
from ecomops.platform.context import TenantInfo
from ecomops.platform.server import call_server, running_server
from ecomops.platform.warehouse.connection import connect, open_warehouse, warehouse_path

rollups_app = typer.Typer(
    help="Metric rollups: the hourly aggregates dashboards read (see docs/architecture.md).",
    no_args_is_help=True,
)

#: A rebuild of a large shop takes minutes on a busy machine.
REBUILD_TIMEOUT_S = 1800.0


def _warehouse_file(tenant: str) -> tuple[TenantInfo, Any]:
    info = tenants.get_tenant(store_engine(), tenant)
    path = warehouse_path(settings().warehouse_dir(), info.id)
    if not path.exists():
        raise NotFound(f"tenant {tenant!r} has no warehouse file yet", {"path": str(path)})
    return info, path


def _print(payload: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(payload)
        return
    console.print(
        f"ready: {payload['ready']}  rebuilt: {payload['rebuilt_at']}  refreshed: {payload['refreshed_at']}  "
        f"hours refreshed since rebuild: {payload['hours_refreshed']}"
    )
    console.print(
        f"day rollups in: {payload['day_zone'] or '– (built at the first metrics request)'}  "
        f"maintenance version: {payload['version']}"
    )
    for table, n in payload["rows"].items():
        console.print(f"  {table}: {n:,} rows")


@rollups_app.command("status")
def status_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Whether the rollups are built, when they were last rebuilt/refreshed and their row counts."""
    with cli_errors():
        server = running_server(settings())
        if server is not None:
            payload = call_server(server, "GET", f"/api/v1/t/{tenant}/metrics/rollups")
        else:
            _, path = _warehouse_file(tenant)
            con = connect(path, read_only=True)
            try:
                payload = rollups.status(con)
            finally:
                con.close()
    _print(payload, json_out)


@rollups_app.command("rebuild")
def rebuild_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Recompute every rollup from the raw facts (after facts changed outside ingest, imports or seeds)."""
    with cli_errors():
        server = running_server(settings())
        if server is not None:
            payload = call_server(
                server, "POST", f"/api/v1/t/{tenant}/metrics/rollups/rebuild", timeout=REBUILD_TIMEOUT_S
            )
        else:
            info, _ = _warehouse_file(tenant)
            warehouse = open_warehouse(settings().warehouse_dir(), info.id)
            try:
                with warehouse.write() as cur:
                    before = rollups.status(cur)
                    rollups.rebuild(cur)
                    rollups.keep_days_in(cur, info.timezone)
                    payload = rollups.status(cur)
            finally:
                warehouse.close()
            record_action(
                store_engine(),
                info.id,
                "metrics.rollups_rebuilt",
                "warehouse",
                info.id,
                before=before,
                after=payload,
            )
    _print(payload, json_out)
