"""Start the ingest write path the settings ask for: the embedded WAL pipeline (default) or cluster mode.

In cluster mode (``ECOMOPS_INGEST_LOG``) this process appends to the shared log; with
``ECOMOPS_INGEST_LOADER_SHARD`` it also loads that shard of tenants into its warehouses, and so is the
process that serves their reads (docs/cluster.md).
"""

from __future__ import annotations

from ecomops.ingest import pipeline
from ecomops.ingest.cluster import ClusterIngest, open_log
from ecomops.ingest.pii import vault_sink
from ecomops.ingest.shedding import LoadShedder
from ecomops.ingest.stream_loader import StreamLoader
from ecomops.platform import tenants
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.ownership import Shard
from ecomops.platform.web.state import AppState


async def startup(state: AppState) -> None:
    settings = state.settings
    if not settings.ingest_log:
        await pipeline.startup(state)
        return
    engine = state.engine

    def tenant_of(tenant_id: str) -> TenantInfo:
        return tenants.get_tenant_by_id(engine, tenant_id)

    event_log = open_log(settings)
    loader = None
    if settings.ingest_loader_shard:
        shard = Shard.parse(settings.ingest_loader_shard)
        loader = StreamLoader(
            settings, event_log, state.warehouses, tenant_of, vault_sink(engine), shard.owns
        )
    cluster = ClusterIngest(settings, event_log, tenant_of, loader)
    await cluster.start()
    state.services["ingest"] = cluster
    state.services["ingest_shedding"] = LoadShedder(settings)


async def shutdown(state: AppState) -> None:
    await pipeline.shutdown(state)
