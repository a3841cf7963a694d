"""``ecomops import``: thin CLI over ``imports.operations.start_import``, with a progress bar.

When ``ecomops serve`` owns the data dir the files are uploaded to its API (``here_or_server``, the
local control token) and the job is followed until it ends; otherwise the same function runs the
import in this process. Both paths answer the finished job (``--json`` prints the API's job JSON)
and the same errors: a refused upload as the API's 422, a job that failed as ``import_failed``.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecomops.imports import operations
from ecomops.imports.operations import ImportJobView
from ecomops.imports.options import PRESETS, ImportOptions, InputFile
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import ServerClient, tenant_path
from ecomops.platform.commandline import (
    cli_errors,
    console,
    err_console,
    here_or_server,
    print_json,
    tenant_info,
)
from ecomops.platform.web.state import AppState

POLL_SECONDS = 0.25
#: Uploading large exports to a local server; generous so slow disks are not cut off.
UPLOAD_TIMEOUT_S = 3600.0


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not enabled,
        transient=True,
    )


def run_import(
    tenant: str, files: list[Path], options: ImportOptions, mapping: Path | None, show: bool
) -> ImportJobView:
    """The finished import job: uploaded to the server and followed, or run here."""
    with _progress(show) as bar:
        task = bar.add_task("reading", total=None)

        def remote(client: ServerClient) -> ImportJobView:
            bar.update(task, description="uploading")
            data = {
                "preset": options.preset,
                "encoding": options.encoding,
                "source_timezone": options.source_timezone,
                "currency": options.currency,
                "reference_date": options.reference_date,
            }
            with ExitStack() as stack:
                parts: list[tuple[str, tuple[str, Any, str]]] = [
                    ("files", (p.name, stack.enter_context(p.open("rb")), "application/octet-stream"))
                    for p in files
                ]
                if mapping is not None:
                    opened = stack.enter_context(mapping.open("rb"))
                    parts.append(("mapping", (mapping.name, opened, "application/yaml")))
                job = client.call(
                    "POST",
                    tenant_path(tenant, "imports"),
                    ImportJobView,
                    files=parts,
                    data={k: v for k, v in data.items() if v is not None},
                    timeout=UPLOAD_TIMEOUT_S,
                )
            while not job.finished:
                bar.update(task, completed=job.bytes_done, total=job.bytes_total, description=job.phase)
                time.sleep(POLL_SECONDS)
                job = client.call("GET", tenant_path(tenant, "imports", job.id), ImportJobView)
            return job

        def local(state: AppState) -> ImportJobView:
            def on_progress(done: int, total: int, phase: str) -> None:
                bar.update(task, completed=done, total=total, description=phase)

            inputs = [InputFile(p.resolve(), p.name) for p in files]
            info = tenant_info(state, tenant)
            return operations.start_import(state, info, options, inputs, progress=on_progress)

        return here_or_server(remote=remote, local=local, writable=True)


def _print_summary(job: ImportJobView) -> None:
    summary: dict[str, Any] = job.summary or {}
    table = Table(
        "file", "kind", "read", "loaded", "duplicate", "rejected", title=f"import {summary['import_id']}"
    )
    for f in summary["files"]:
        table.add_row(
            f["file"],
            f["kind"],
            f"{f['rows_read']:,}",
            f"{f['rows_loaded']:,}",
            f"{f['rows_duplicate']:,}",
            f"{f['rows_rejected']:,}",
        )
    table.add_row(
        "[bold]total",
        "",
        f"{summary['rows_read']:,}",
        f"{summary['rows_loaded']:,}",
        f"{summary['rows_duplicate']:,}",
        f"{summary['rows_rejected']:,}",
    )
    console.print(table)
    console.print(f"new orders {summary['orders']:,}, new customers {summary['customers']:,}")
    events = summary.get("inserted", {}).get("events", 0)
    if events:
        console.print(f"new events {events:,} (session imports: see `ecomops sessions`)")
    cancellations = summary.get("cancellations") or {}
    if cancellations:
        console.print(
            f"cancellation lines linked to earlier sales: {cancellations['matched']:,} matched, "
            f"{cancellations['partly_matched']:,} partly, {cancellations['unmatched']:,} unmatched"
        )
    classes = summary.get("non_product_lines") or {}
    if classes:
        console.print(
            "non-product lines: " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(classes.items()))
        )
    if summary["rows_rejected"]:
        console.print(
            f"[yellow]{summary['rows_rejected']:,} rows rejected[/yellow], reasons in "
            f"{summary['reject_file']}",
            soft_wrap=True,
        )


def import_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(help="CSV files (.csv or .csv.gz)", exists=True, dir_okay=False, readable=True),
    ],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    preset: Annotated[str, typer.Option(help=f"One of: {', '.join(PRESETS)}")],
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="YAML mapping file (generic and sessions presets) or line-class file (online-retail-ii)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    encoding: Annotated[str, typer.Option(help="auto (UTF-8, else GB18030), utf-8 or gb18030")] = "auto",
    source_timezone: Annotated[str | None, typer.Option(help="IANA zone of naive timestamps")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO currency of the amounts")] = None,
    reference_date: Annotated[
        str | None,
        typer.Option(
            help="YYYY-MM-DD: session rows with a month but no year fall in the 12 months ending here"
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Import order or session exports into a tenant's warehouse (idempotent; rejects go to a file)."""
    with cli_errors():
        options = ImportOptions(
            preset=preset,
            encoding=encoding,
            source_timezone=source_timezone,
            currency=currency,
            mapping=mapping.read_text(encoding="utf-8-sig") if mapping else None,
            reference_date=reference_date,
        )
        job = run_import(tenant, files, options, mapping, show=not json_out)
        job.raise_if_failed()
    if json_out:
        print_json(json_form(job, ImportJobView))
    else:
        _print_summary(job)
