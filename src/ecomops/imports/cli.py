"""``ecomops import``: thin CLI over the import service, with a progress bar.

When ``ecomops serve`` owns the data dir the files are uploaded to its API (authenticated by the
local control token) and the job is followed until it ends; otherwise the tenant's warehouse is
opened here and the import runs in this process. Both paths record the job the same way.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import duckdb
import httpx
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecomops.imports import jobs
from ecomops.imports.execution import run_job
from ecomops.imports.options import PRESETS, ImportOptions, InputFile
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.commandline import cli_errors, console, engine, err_console, print_json, settings
from ecomops.platform.server import ServerInfo, running_server
from ecomops.platform.tenants import get_tenant
from ecomops.platform.warehouse.connection import open_warehouse

POLL_SECONDS = 0.25


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


def _direct(tenant_slug: str, files: list[Path], options: ImportOptions, show: bool) -> dict[str, Any]:
    cfg = settings()
    eng = engine()
    tenant = get_tenant(eng, tenant_slug)
    inputs = [InputFile(p.resolve(), p.name) for p in files]
    job = jobs.create_job(
        eng, tenant.id, options.preset, [f.name for f in inputs], sum(p.stat().st_size for p in files)
    )
    try:
        warehouse = open_warehouse(cfg.warehouse_dir(), tenant.id)
    except duckdb.IOException as exc:
        jobs.mark_failed(eng, job.id, f"warehouse busy: {exc}")
        raise EcomopsError(
            f"the warehouse of {tenant_slug!r} is open in another process; wait for it or start "
            "`ecomops serve` so imports go through the server",
            {"error": str(exc)},
        ) from exc
    try:
        with _progress(show) as bar:
            task = bar.add_task("reading", total=job.bytes_total)

            def on_progress(done: int, total: int, phase: str) -> None:
                bar.update(task, completed=done, total=total, description=phase)

            summary = run_job(
                settings=cfg,
                engine=eng,
                warehouse=warehouse,
                tenant=tenant,
                job_id=job.id,
                files=inputs,
                options=options,
                progress=on_progress,
            )
    finally:
        warehouse.close()
    return summary.to_dict()


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        raise EcomopsError(str(error["message"]), error.get("details"), code=str(error.get("code")))
    except (ValueError, KeyError, TypeError):
        raise EcomopsError(f"server answered {response.status_code}: {response.text[:200]}") from None


def _via_server(
    server: ServerInfo,
    tenant_slug: str,
    files: list[Path],
    options: ImportOptions,
    mapping: Path | None,
    show: bool,
) -> dict[str, Any]:
    base = f"{server.url}/api/v1/t/{tenant_slug}/imports"
    headers = {"Authorization": f"Bearer {server.token}"}
    data = {"preset": options.preset, "encoding": options.encoding}
    if options.source_timezone:
        data["source_timezone"] = options.source_timezone
    if options.currency:
        data["currency"] = options.currency
    timeout = httpx.Timeout(30.0, read=None, write=None)
    with (
        httpx.Client(timeout=timeout, headers=headers) as client,
        ExitStack() as stack,
        _progress(show) as bar,
    ):
        task: TaskID = bar.add_task("uploading", total=None)
        parts: list[tuple[str, tuple[str, Any, str]]] = [
            ("files", (p.name, stack.enter_context(p.open("rb")), "application/octet-stream")) for p in files
        ]
        if mapping is not None:
            parts.append(
                ("mapping", (mapping.name, stack.enter_context(mapping.open("rb")), "application/yaml"))
            )
        response = client.post(base, data=data, files=parts)
        _raise_for_error(response)
        job = response.json()
        while job["status"] not in jobs.FINISHED:
            bar.update(task, completed=job["bytes_done"], total=job["bytes_total"], description=job["phase"])
            time.sleep(POLL_SECONDS)
            response = client.get(f"{base}/{job['id']}")
            _raise_for_error(response)
            job = response.json()
    if job["status"] == jobs.FAILED:
        details = (job.get("summary") or {}).get("details")
        raise EcomopsError(f"import {job['id']} failed: {job['error']}", details)
    summary: dict[str, Any] = job["summary"]
    return summary


def _print_summary(summary: dict[str, Any]) -> None:
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
        typer.Option(help="YAML mapping file (generic preset)", exists=True, dir_okay=False, readable=True),
    ] = None,
    encoding: Annotated[str, typer.Option(help="auto (UTF-8, else GB18030), utf-8 or gb18030")] = "auto",
    source_timezone: Annotated[str | None, typer.Option(help="IANA zone of naive timestamps")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO currency of the amounts")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Import order exports into a tenant's warehouse (idempotent; bad rows go to a reject file)."""
    with cli_errors():
        options = ImportOptions(
            preset=preset,
            encoding=encoding,
            source_timezone=source_timezone,
            currency=currency,
            mapping=mapping.read_text(encoding="utf-8-sig") if mapping else None,
        )
        server = running_server(settings())
        show = not json_out
        if server is not None:
            summary = _via_server(server, tenant, files, options, mapping, show)
        else:
            summary = _direct(tenant, files, options, show)
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary)
