"""``ecomops query``: read-only SQL over a tenant warehouse, through the server when one runs.

One path: the command runs ``query.service.run_query`` — through ``POST /api/v1/t/{tenant}/query`` while
``ecomops serve`` owns the warehouse file (DuckDB lets one process write it), else here on the file
opened read-only with file access off — and prints the typed answer (``-f json`` is the API's JSON).
"""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, err_console, here_or_server, tenant_info
from ecomops.query import service
from ecomops.query.service import QueryAnswer


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _cell(value: Any) -> str:
    """Text for table and CSV cells: nested values as JSON, NULL as empty (CSV) or 'NULL' (table)."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render(result: QueryAnswer, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(json_form(result, QueryAnswer), ensure_ascii=False, indent=2) + "\n")
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
        why = "the 16 MB size cap" if result.truncated_by == "bytes" else "the row limit (use --limit)"
        err_console.print(f"[yellow]note:[/yellow] output truncated to {result.row_count} rows by {why}")


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
        result = here_or_server(
            remote=lambda client: client.call(
                "POST",
                tenant_path(tenant, "query"),
                QueryAnswer,
                json={"sql": sql, "limit": limit},
                # The server cancels the statement after its own limit; leave room for the rows to arrive.
                timeout=service.TIMEOUT_SECONDS + 30,
            ),
            local=lambda state: service.run_query(state, tenant_info(state, tenant), sql, limit),
        )
    render(result, fmt)
