"""``ecomops audit verify|anchor|export``: check a tenant's chain, anchor its head, take records out.

All three read the operational store directly (no warehouse involved), so they work with or without a
running server.
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ecomops.audit import anchor as anchors
from ecomops.audit import service
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform import audit as recording
from ecomops.platform.commandline import cli_errors, console, engine, err_console, print_json
from ecomops.platform.tenants import get_tenant

audit_app = typer.Typer(help="Hash-chained audit log: verify, anchor and export.", no_args_is_help=True)


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


def read_anchor(value: str) -> anchors.Anchor:
    """``--anchor`` is the anchor string itself or a file holding it."""
    if value.strip().startswith(anchors.PREFIX):
        return anchors.parse_anchor(value)
    path = Path(value).expanduser()
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            f"--anchor is neither an anchor string ({anchors.PREFIX};…) nor a readable file: {path}: {exc}",
            {"field": "anchor"},
        ) from exc
    return anchors.parse_anchor(text)


@audit_app.command("verify")
def verify_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    anchor: Annotated[
        str | None,
        typer.Option(help="Anchor string or file from 'ecomops audit anchor': also fail if the log was cut"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check every record's link; exit 1 naming the first broken seq if the chain was tampered with."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        anchored = read_anchor(anchor) if anchor is not None else None
        if anchored is None:
            result = service.verify(engine(), info.id)
        else:
            result = anchors.verify_with_anchor(engine(), info.id, anchored)
    if json_out:
        print_json(result.as_dict())
    elif result.ok:
        console.print(
            f"audit chain of [bold]{info.slug}[/bold] is intact: {result.checked} records, "
            f"head seq {result.last_seq} hash {result.head_hash}"
        )
        if anchored is not None:
            console.print(
                f"it still holds seq {anchored.seq} as anchored at {anchors.format_time(anchored.at)}"
            )
    elif result.first_broken_seq is None:
        err_console.print(f"[red]audit check of {info.slug} failed:[/red] {result.reason}")
    else:
        err_console.print(
            f"[red]audit chain of {info.slug} is broken at seq {result.first_broken_seq}:[/red] "
            f"{result.reason}"
        )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def anchor_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    output: Annotated[Path | None, typer.Option(help="Also write the anchor to this file")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify the chain and print a signed anchor of its head; keep it outside this server.

    Later, 'ecomops audit verify --anchor' fails if the log no longer reaches the anchored record
    unchanged (the chain alone cannot tell that its newest records were deleted).
    """
    with cli_errors():
        info = get_tenant(engine(), tenant)
        made = anchors.make_anchor(engine(), info.id)
        if output is not None:
            try:
                output.expanduser().write_text(made.encode() + "\n", "utf-8")
            except OSError as exc:
                raise ValidationFailed(
                    f"cannot write the anchor to {output}: {exc}", {"field": "output"}
                ) from exc
    if json_out:
        print_json(made.as_dict())
    else:
        print(made.encode())
        err_console.print(
            f"anchored {info.slug} at seq {made.seq}" + (f", written to {output}" if output else "")
        )


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
    writer = csv.DictWriter(sys.stdout, fieldnames=list(recording.AuditEntry.__dataclass_fields__))
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "details": recording.canonical(record["details"])})
