"""``ecomops doctor``: print the checks as a table (or JSON) and exit 1 if any failed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ecomops.ops.doctor import Report, Status, run_checks
from ecomops.platform.commandline import console, print_json, settings

_STYLE = {Status.ok: "green", Status.warn: "yellow", Status.fail: "bold red", Status.skip: "dim"}


def render(report: Report) -> None:
    table = Table("check", "status", "detail", title="ecomops doctor")
    for check in report.checks:
        style = _STYLE[check.status]
        table.add_row(check.name, f"[{style}]{check.status.value}[/{style}]", check.detail)
    console.print(table)
    failed = [c.name for c in report.checks if c.status is Status.fail]
    if failed:
        console.print(f"[bold red]{len(failed)} check(s) failed:[/bold red] {', '.join(failed)}")
    else:
        console.print("[green]all checks passed[/green]")


def doctor_command(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Check the store, warehouses, data dir, disk, packages and services; exit 1 if anything fails."""
    report = run_checks(settings())
    if json_out:
        print_json(report.to_dict())
    else:
        render(report)
    if not report.ok:
        raise typer.Exit(1)
