"""``ecomops query``: read-only SQL over a tenant warehouse, through the server when one runs.

DuckDB lets one process write a file. While ``ecomops serve`` runs it owns every warehouse, so
the query goes to its API with the local control token; otherwise the file is opened read-only
here. Either way the same service validates and runs the statement.
"""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.kernel.errors import NotFound
from ecomops.platform import tenants
from ecomops.platform.commandline import cli_errors, console, engine, err_console, settings
from ecomops.platform.server import ServerInfo, call_server, running_server
from ecomops.platform.warehouse import query as service
from ecomops.platform.warehouse.connection import warehouse_path


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def query_via_server(server: ServerInfo, tenant: str, sql: str, limit: int) -> service.QueryResult:
    """POST the statement to the running server, authenticated with its local control token."""
    payload = call_server(
        server,
        "POST",
        f"/api/v1/t/{tenant}/query",
        json_body={"sql": sql, "limit": limit},
        # The server cancels queries after its own limit; leave room for the rows to arrive.
        timeout=service.DEFAULT_TIMEOUT_SECONDS + 30,
    )
    return service.QueryResult(
        columns=[service.Column(str(c["name"]), str(c["type"])) for c in payload["columns"]],
        rows=payload["rows"],
        truncated=bool(payload["truncated"]),
        elapsed_ms=float(payload["elapsed_ms"]),
    )


def query_local(tenant: str, sql: str, limit: int) -> service.QueryResult:
    """No server: open the tenant's file read-only in this process."""
    info = tenants.get_tenant(engine(), tenant)
    path = warehouse_path(settings().warehouse_dir(), info.id)
    if not path.exists():
        raise NotFound(
            f"tenant {tenant!r} has no warehouse file yet; it is created by `ecomops tenant create` "
            "or when the server first loads data",
            {"path": str(path)},
        )
    return service.query_file(path, sql, limit=limit)


def _cell(value: Any) -> str:
    """Text for table and CSV cells: nested values as JSON, NULL as empty (CSV) or 'NULL' (table)."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render(result: service.QueryResult, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        payload = {
            "columns": [{"name": c.name, "type": c.type} for c in result.columns],
            "rows": result.rows,
            "row_count": result.row_count,
            "truncated": result.truncated,
            "elapsed_ms": result.elapsed_ms,
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.name for c in result.columns])
        writer.writerows([_cell(v) for v in row] for row in result.rows)
    else:
        table = Table(*[c.name for c in result.columns], show_lines=False)
        for row in result.rows:
            table.add_row(*[_cell(v) if v is not None else "[dim]NULL[/dim]" for v in row])
        console.print(table)
        err_console.print(f"[dim]{result.row_count} row(s) in {result.elapsed_ms:.1f} ms[/dim]")
    if result.truncated:
        err_console.print(f"[yellow]note:[/yellow] output truncated to {result.row_count} rows (use --limit)")


def query_command(
    sql: Annotated[str, typer.Argument(help='One read-only statement, e.g. "SELECT count(*) FROM orders"')],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format")] = OutputFormat.table,
    limit: Annotated[
        int, typer.Option(min=1, max=service.MAX_LIMIT, help="Most rows to return")
    ] = service.DEFAULT_LIMIT,
) -> None:
    """Run read-only SQL on a tenant's warehouse (writes, file access and other databases are refused)."""
    with cli_errors():
        server = running_server(settings())
        if server is not None:
            result = query_via_server(server, tenant, sql, limit)
        else:
            result = query_local(tenant, sql, limit)
    render(result, fmt)
