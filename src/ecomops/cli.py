"""``ecomops`` command line. Each domain contributes its own command group."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ecomops.alerts.cli import alerts_app
from ecomops.analytics.cli import metrics_command
from ecomops.analytics.funnel_cli import funnel_command
from ecomops.analytics.rollups_cli import rollups_app
from ecomops.audit.cli import audit_app
from ecomops.customers.cli import customers_app
from ecomops.imports.cli import import_cmd
from ecomops.ingest.cli import ingest_app
from ecomops.live.cli import live_app
from ecomops.ops.cli import doctor_command
from ecomops.orders.cli import orders_app
from ecomops.platform.commandline import console, settings
from ecomops.privacy.cli import privacy_app
from ecomops.privacy.keys_cli import keys_app
from ecomops.products.cli import products_app
from ecomops.query.cli import query_command
from ecomops.security.cli import member_app, user_app
from ecomops.simulate.cli import demo_app
from ecomops.tenancy.cli import apikey_app, source_app, tenant_app

#: Seconds ``ecomops serve`` lets running requests finish on Ctrl-C before cancelling them.
SHUTDOWN_GRACE_SECONDS = 5

app = typer.Typer(
    help="ecomops: e-commerce operations platform.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(source_app, name="source")
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")
app.add_typer(member_app, name="member")
app.command("import")(import_cmd)
app.add_typer(ingest_app, name="ingest")
app.command("query")(query_command)
app.command("doctor")(doctor_command)
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
app.command("metrics")(metrics_command)
app.add_typer(rollups_app, name="rollups")
app.command("funnel")(funnel_command)
app.add_typer(customers_app, name="customers")
app.add_typer(orders_app, name="orders")
app.add_typer(live_app, name="live")
app.add_typer(products_app, name="products")
app.add_typer(keys_app, name="keys")
app.add_typer(privacy_app, name="privacy")
app.add_typer(alerts_app, name="alerts")


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
) -> None:
    """Serve the API and console; this process owns the tenant warehouses while it runs."""
    import uvicorn

    from ecomops.app import create_app
    from ecomops.platform.server import ServerInfo, new_control_token, remove_lock, running_server, write_lock

    cfg = settings()
    host = host or cfg.host
    port = port or cfg.port
    other = running_server(cfg)
    if other is not None:
        console.print(f"[red]error:[/red] a server already owns {cfg.resolved_data_dir} at {other.url}")
        raise typer.Exit(1)
    token = new_control_token()
    url = f"http://{host}:{port}"
    write_lock(cfg, ServerInfo(os.getpid(), url, token))
    console.print(f"ecomops serving at [bold]{url}[/bold] (data dir {cfg.resolved_data_dir})")
    try:
        uvicorn.run(
            create_app(cfg, control_token=token),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            # Live dashboards keep SSE streams open (docs/live.md): on Ctrl-C, requests still running
            # after this many seconds are cancelled instead of holding the shutdown for minutes.
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
    finally:
        remove_lock(cfg, os.getpid())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
