"""Which process owns a tenant's warehouse: every tenant in embedded mode, a loader shard's in cluster mode,
and the scheduler runs a tenant's jobs only where its warehouse is owned."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecomops.alerts import service as alerts
from ecomops.platform.jobs import scheduler_of
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.ownership import Shard, owns_warehouse, shard_of
from tests.conftest import InProcServer


def test_shards_are_stable_and_split_the_tenants(settings: Settings) -> None:
    ids = [f"t_{n:04d}" for n in range(400)]
    assert [shard_of(i, 4) for i in ids] == [shard_of(i, 4) for i in ids]
    for tenant_id in ids:
        assert [Shard(s, 4).owns(tenant_id) for s in range(4)].count(True) == 1
    spread = [sum(shard_of(i, 4) == s for i in ids) for s in range(4)]
    assert min(spread) > 60, spread  # 100 expected per shard
    assert Shard.parse("1/4") == Shard(1, 4)
    for bad in ("2", "4/4", "a/2", "1/0"):
        with pytest.raises(ValueError):
            Shard.parse(bad)
    cluster = settings.model_copy(update={"ingest_log": "redis://127.0.0.1:6379/0"})
    assert owns_warehouse(settings, ids[0])
    assert not owns_warehouse(cluster, ids[0])
    shard = f"{shard_of(ids[0], 2)}/2"
    assert owns_warehouse(cluster.model_copy(update={"ingest_loader_shard": shard}), ids[0])
    other = f"{1 - shard_of(ids[0], 2)}/2"
    assert not owns_warehouse(cluster.model_copy(update={"ingest_loader_shard": other}), ids[0])


def test_a_cluster_ingest_process_leaves_jobs_to_the_tenants_loader(server: InProcServer) -> None:
    state = server.state
    tenant = server.tenant
    alerts.create_rule(
        state.engine,
        state.settings,
        tenant.id,
        alerts.RuleSpec(name="floor", metric="gmv", threshold=Decimal(1)),
    )
    scheduler = scheduler_of(state)
    embedded = state.settings
    try:
        state.settings = embedded.model_copy(update={"ingest_log": "redis://127.0.0.1:6379/0"})
        assert scheduler.run_pass("alerts.evaluate") == {}
        state.settings = state.settings.model_copy(update={"ingest_loader_shard": "0/1"})
        assert list(scheduler.run_pass("alerts.evaluate")) == [tenant.id]
    finally:
        state.settings = embedded
