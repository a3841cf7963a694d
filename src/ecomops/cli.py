"""``ecomops`` command line: ``serve`` plus every installed module's commands (``Module.commands``)."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer
import uvicorn

from ecomops.app import create_app
from ecomops.platform.commandline import cli_errors, console, settings
from ecomops.platform.observability import logs
from ecomops.platform.registry import registry
from ecomops.platform.server import ServerInfo, new_control_token, remove_lock, running_server, write_lock
from ecomops.platform.web.protocol import bounded_head_protocol

#: Seconds ``ecomops serve`` lets running requests finish on Ctrl-C before cancelling them.
SHUTDOWN_GRACE_SECONDS = 5

app = typer.Typer(
    help="ecomops: e-commerce operations platform.", no_args_is_help=True, pretty_exceptions_enable=False
)


def add_module_commands(cli: typer.Typer) -> None:
    """Every installed module's commands (``Module.commands``), in module order."""
    for module in registry().modules:
        for command in module.commands:
            if isinstance(command.target, typer.Typer):
                cli.add_typer(command.target, name=command.name)
            else:
                cli.command(command.name)(command.target)


add_module_commands(app)


@app.callback()
def _private_files() -> None:
    """Everything ecomops writes (store, warehouses, WAL, imports, rejects, keys) is the service user's
    alone: files 0600 and folders 0700, whatever umask the shell had."""
    os.umask(0o077)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default ECOMOPS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ECOMOPS_PORT)")] = None,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            help="Comma-separated proxy addresses (or *) whose X-Forwarded-For/-Proto are believed: "
            "client IP for rate limits and audit, https for HSTS. Others' forwarded headers are ignored."
        ),
    ] = "127.0.0.1",
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"] | None,
        typer.Option(
            "--log-level",
            help="Lowest level logged on stderr (default ECOMOPS_LOG_LEVEL, info); info includes one "
            "access line per request.",
            case_sensitive=False,
        ),
    ] = None,
    log_format: Annotated[
        Literal["json", "text"] | None,
        typer.Option(
            "--log-format",
            help="json: one JSON object per line; text: readable lines (default ECOMOPS_LOG_FORMAT, json).",
            case_sensitive=False,
        ),
    ] = None,
) -> None:
    """Serve the API and console; this process owns the tenant warehouses while it runs."""
    cfg = settings()
    host = host or cfg.host
    port = port or cfg.port
    logs.configure(log_level or cfg.log_level, log_format or cfg.log_format)
    other = running_server(cfg)
    if other is not None:
        console.print(f"[red]error:[/red] a server already owns {cfg.resolved_data_dir} at {other.url}")
        raise typer.Exit(1)
    token = new_control_token()
    url = f"http://{host}:{port}"
    write_lock(cfg, ServerInfo(os.getpid(), url, token))
    console.print(f"ecomops serving at [bold]{url}[/bold] (data dir {cfg.resolved_data_dir})")
    try:
        with cli_errors():  # e.g. a store migrated by a module not installed here: one line, not a traceback
            application = create_app(cfg, control_token=token)
        uvicorn.run(
            application,
            host=host,
            port=port,
            # Logging is ours (logs.configure above): uvicorn's records reach the same handler, and
            # our access log (observability.access) replaces uvicorn's.
            log_config=None,
            log_level=None,
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            # Live dashboards keep SSE streams open (docs/live.md): on Ctrl-C, requests still running
            # after this many seconds are cancelled instead of holding the shutdown for minutes.
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            # Connection bounds (docs/security.md, deployment): a request head must arrive whole and in
            # time (slowloris), idle kept-alive connections close, and connections are capped.
            http=bounded_head_protocol(cfg.http_head_timeout_seconds, cfg.http_max_head_bytes),
            timeout_keep_alive=cfg.http_keep_alive_seconds,
            limit_concurrency=cfg.http_limit_concurrency,
        )
    finally:
        remove_lock(cfg, os.getpid())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
