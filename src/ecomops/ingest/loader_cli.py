"""``ecomops loader``: cluster mode's loader process for a shard of tenants (docs/cluster.md)."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from ecomops.ingest.cluster import open_log
from ecomops.ingest.pii import vault_sink
from ecomops.ingest.stream_loader import StreamLoader
from ecomops.platform import tenants
from ecomops.platform.commandline import cli_errors, console, engine, settings
from ecomops.platform.context import TenantInfo
from ecomops.platform.observability import logs
from ecomops.platform.server import running_server
from ecomops.platform.warehouse.connection import WarehouseRegistry
from ecomops.platform.warehouse.ownership import Shard


def loader(
    shard: Annotated[int | None, typer.Option(help="This loader's shard (0 … shards-1)")] = None,
    shards: Annotated[int | None, typer.Option(help="How many loaders share the tenants")] = None,
    tenant: Annotated[
        list[str] | None,
        typer.Option("--tenant", help="Load exactly these tenants (slug; repeatable) instead of a shard"),
    ] = None,
) -> None:
    """Cluster mode: load a shard of tenants from the shared ingest log into their warehouses here.

    Each tenant belongs to shard sha256(tenant id) mod --shards; run one loader per shard (this data
    dir then holds those tenants' warehouses). Stops cleanly on SIGTERM or Ctrl-C; a kill -9 loses
    nothing either: the next start resumes after the last committed log entry."""
    cfg = settings()
    logs.configure(cfg.log_level, cfg.log_format)
    with cli_errors():
        if not cfg.ingest_log:
            raise typer.BadParameter(
                "set ECOMOPS_INGEST_LOG (e.g. redis://127.0.0.1:6379/0): cluster mode only"
            )
        other = running_server(cfg)
        if other is not None:
            raise typer.BadParameter(
                f"a server at {other.url} owns the warehouses of {cfg.resolved_data_dir}"
            )
        store = engine()
        if tenant:
            wanted = {tenants.get_tenant(store, slug).id for slug in tenant}

            def owns(tenant_id: str) -> bool:
                return tenant_id in wanted

            what = f"tenants {', '.join(tenant)}"
        elif shard is not None and shards is not None:
            owns = Shard(shard, shards).owns
            what = f"shard {shard}/{shards}"
        else:
            raise typer.BadParameter("give --shard and --shards, or --tenant")

        def tenant_of(tenant_id: str) -> TenantInfo:
            return tenants.get_tenant_by_id(store, tenant_id)

        warehouses = WarehouseRegistry(cfg.warehouse_dir())
        event_log = open_log(cfg)
        stream_loader = StreamLoader(cfg, event_log, warehouses, tenant_of, vault_sink(store), owns)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stream_loader.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"ecomops loader: {what} from {cfg.ingest_log} into {cfg.warehouse_dir()}")
    try:
        stream_loader.run()
    finally:
        warehouses.close_all()
        event_log.close()
