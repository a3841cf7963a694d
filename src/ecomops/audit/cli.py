"""``ecomops audit verify|export``: check a tenant's chain and take its records out.

Both read the operational store directly (no warehouse involved), so they work with or without a
running server.
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from ecomops.audit import service
from ecomops.cliutil import cli_errors, console, engine, err_console, print_json
from ecomops.kernel.errors import ValidationFailed
from ecomops.tenancy.service import get_tenant

audit_app = typer.Typer(help="Hash-chained audit log: verify and export.", no_args_is_help=True)


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


def parse_time(text: str | None, field: str) -> datetime | None:
    """ISO 8601 date or date-time; a value without an offset is taken as UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(
            f"{field} must be an ISO 8601 date or time, got {text!r}", {"field": field}
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@audit_app.command("verify")
def verify_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check every record's link; exit 1 naming the first broken seq if the chain was tampered with."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        result = service.verify(engine(), info.id)
    if json_out:
        print_json(result.as_dict())
    elif result.ok:
        console.print(
            f"audit chain of [bold]{info.slug}[/bold] is intact: {result.checked} records, "
            f"head seq {result.last_seq} hash {result.head_hash}"
        )
    else:
        err_console.print(
            f"[red]audit chain of {info.slug} is broken at seq {result.first_broken_seq}:[/red] "
            f"{result.reason}"
        )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def export_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    since: Annotated[
        str | None, typer.Option(help="From this ISO time (inclusive, UTC if no offset)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO time (exclusive)")] = None,
    action: Annotated[
        str | None, typer.Option(help="Exact action, or a prefix ending in * (import.*)")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="json or csv")] = ExportFormat.json,
) -> None:
    """Write the tenant's records in chain order to stdout."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        records = service.export(
            engine(),
            info.id,
            since=parse_time(since, "since"),
            until=parse_time(until, "until"),
            action=action,
        )
    if fmt is ExportFormat.json:
        print_json(records)
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(service.AuditEntry.__dataclass_fields__))
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "details": service.canonical(record["details"])})
