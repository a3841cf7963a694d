"""Shared CLI plumbing: settings and store access, error printing, and the one way every command runs
its use case: through the running server's API when one owns the warehouses, else right here.

``here_or_server(remote=…, local=…)`` is that rule. ``local`` receives an :class:`AppState` built in
this process (the same shape the server hands its API handlers), so a command calls exactly the
service function the API handler calls; ``remote`` receives the typed :class:`ServerClient`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import duckdb
import typer
from rich.console import Console
from sqlalchemy import Engine

from ecomops.kernel.errors import Conflict, EcomopsError, NotFound
from ecomops.platform.client import ServerClient, tenant_path
from ecomops.platform.context import TenantInfo
from ecomops.platform.enablement import check_enabled
from ecomops.platform.export import ExportTable, Format, parse_format
from ecomops.platform.export import chunks as export_chunks
from ecomops.platform.server import running_server
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import engine_for
from ecomops.platform.store.migrate import ensure_current
from ecomops.platform.tenants import get_tenant
from ecomops.platform.warehouse.connection import Warehouse, connect, warehouse_path
from ecomops.platform.web.state import AppState

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def settings() -> Settings:
    return get_settings()


def engine() -> Engine:
    """The operational store, migrated to head (CLI commands may be the first thing ever run)."""
    eng = engine_for(settings().resolved_database_url)
    ensure_current(eng)
    return eng


class LocalWarehouses:
    """Tenant warehouses opened by this process (no server owns them): read-only unless ``writable``.

    Read-only lets several commands read one file at once; a writable open takes DuckDB's single
    writer slot for the file until the command ends.
    """

    def __init__(self, warehouse_dir: Path, *, writable: bool) -> None:
        self.warehouse_dir = warehouse_dir
        self.writable = writable
        self._open: dict[str, Warehouse] = {}

    def get(self, tenant_id: str) -> Warehouse:
        found = self._open.get(tenant_id)
        if found is None:
            path = warehouse_path(self.warehouse_dir, tenant_id)
            if not self.writable and not path.exists():
                raise NotFound(
                    "this shop has no warehouse file yet (it is created with the tenant)", {"path": str(path)}
                )
            try:
                con = connect(path, read_only=not self.writable)
            except duckdb.IOException as exc:
                raise Conflict(
                    "this shop's warehouse is open in another process; wait for it, or start "
                    "`ecomops serve` so commands go through the server",
                    {"path": str(path), "error": str(exc)},
                ) from exc
            found = self._open[tenant_id] = Warehouse(tenant_id, path, con, read_only=not self.writable)
        return found

    def close_all(self) -> None:
        for warehouse in self._open.values():
            warehouse.close()
        self._open.clear()


@contextmanager
def local_state(*, writable: bool = False) -> Iterator[AppState]:
    """The server's state, built in this process for a command that runs without a server."""
    cfg = settings()
    state = AppState(cfg, engine(), LocalWarehouses(cfg.warehouse_dir(), writable=writable), control_token="")
    try:
        yield state
    finally:
        state.warehouses.close_all()


def here_or_server(
    *, remote: Callable[[ServerClient], T], local: Callable[[AppState], T], writable: bool = False
) -> T:
    """Run a use case through the running server's API, or here when no server runs (see module doc)."""
    server = running_server(settings())
    if server is not None:
        return remote(ServerClient(server))
    with local_state(writable=writable) as state:
        return local(state)


def tenant_info(state: AppState, slug: str, module: str | None = None) -> TenantInfo:
    """The tenant a local command acts for (the server resolves it from the URL on the other path).

    With ``module``: refused like the server refuses that module's routes when the tenant switched
    the module off (404 ``module_disabled``), so the command fails the same way on both paths.
    """
    info = get_tenant(state.engine, slug)
    if module is not None:
        check_enabled(state, info.id, module)
    return info


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn domain errors into one red line and exit code 1 instead of a traceback.

    The line names the HTTP status and error code the API answers for the same problem, whichever
    path (server or here) the command took, so scripts and people see one vocabulary.
    """
    try:
        yield
    except EcomopsError as exc:
        err_console.print(f"[red]error:[/red] {exc.message} [dim]({exc.status_code} {exc.code})[/dim]")
        if exc.details:
            err_console.print(json.dumps(exc.details, default=str, ensure_ascii=False))
        raise typer.Exit(1) from exc


def run(fn: Callable[[], T]) -> T:
    with cli_errors():
        return fn()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=option) from None


def on_warehouse(tenant: str, fn: Callable[[Any, TenantInfo], T]) -> T:
    """No server: run ``fn`` on the tenant's warehouse file opened read-only in this process."""
    with local_state() as state:
        info = tenant_info(state, tenant)
        cur = state.warehouses.get(info.id).cursor()
        try:
            return fn(cur, info)
        finally:
            cur.close()


#: The export options of a listing command: ``--format csv|xlsx`` (a whole tenant-wide list; listings
#: with filters word their own help), ``--output`` and ``--lang``.
ListFormat = Annotated[str | None, typer.Option("--format", help="csv or xlsx: the list as a file (audited)")]
ExportOutput = Annotated[Path | None, typer.Option(help="File to write the export to (csv: default stdout)")]
ExportLang = Annotated[str, typer.Option(help="Language of the export's headers: en or zh_CN")]


def parse_export_format(value: str | None, output: Path | None) -> Format | None:
    """``--format`` of a listing command: csv or xlsx (a file, so it needs ``--output``), or none."""
    try:
        fmt = parse_format(value)
    except EcomopsError as exc:
        raise typer.BadParameter(exc.message, param_hint="--format") from None
    if fmt == "xlsx" and output is None:
        raise typer.BadParameter("an .xlsx file is binary: give --output FILE", param_hint="--output")
    return fmt


def save_export(
    fmt: Format,
    output: Path | None,
    *,
    path: str,
    params: dict[str, Any],
    local: Callable[[AppState], ExportTable],
    language: str,
) -> None:
    """Write a table export to ``output`` (or standard output): streamed from the running server's API
    (``?format=``) when one runs, else written here from the same service function, chunk by chunk."""
    sink = output.open("wb") if output is not None else sys.stdout.buffer
    try:
        server = running_server(settings())
        if server is not None:
            ServerClient(server).download(path, sink, params={**params, "format": fmt}, language=language)
        else:
            with local_state() as state:
                for block in export_chunks(local(state), fmt, language):
                    sink.write(block)
        sink.flush()
    finally:
        if output is not None:
            sink.close()
    if output is not None:
        err_console.print(f"[dim]wrote {output}[/dim]")


def save_tenant_list(
    tenant: str,
    fmt: Format,
    output: Path | None,
    language: str,
    *,
    route: str,
    export: Callable[..., ExportTable],
) -> None:
    """Export a tenant-wide list (no filters): the server's ``route`` when one runs, else ``export``
    (``export(engine, tenant_info, fmt, via="cli")``, the service function the route uses)."""
    with cli_errors():
        save_export(
            fmt,
            output,
            path=tenant_path(tenant, route),
            params={},
            local=lambda state: export(state.engine, tenant_info(state, tenant), fmt, via="cli"),
            language=language,
        )
