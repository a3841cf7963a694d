"""The cluster-mode loader in process, on the shared Redis (127.0.0.1:6379, a key prefix of its own):
resume after the committed entry, dedupe across restarts, trim only what is committed, quarantine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import Engine

from ecomops.ingest import service
from ecomops.ingest.pii import vault_sink, wal_sealer
from ecomops.ingest.redis_log import RedisStreamLog
from ecomops.ingest.stream_loader import StreamLoader
from ecomops.ops.doctor import Status, check_ingest_log
from ecomops.platform import tenants
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import WarehouseRegistry
from ecomops.platform.warehouse.ownership import Shard
from ecomops.tenancy import service as tenancy

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def cluster_settings(settings: Settings) -> Iterator[Settings]:
    """Cluster mode on the shared Redis under a unique prefix, removed afterwards. That Redis does not
    fsync each write (its configuration is not ours to change): durability is tested in test_cluster."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    cfg = settings.model_copy(
        update={"ingest_log": REDIS, "ingest_log_prefix": prefix, "ingest_log_require_fsync": False}
    )
    yield cfg
    log = RedisStreamLog.open(REDIS, prefix, require_fsync=False)
    keys = list(log.client.scan_iter(match=f"{prefix}*"))
    if keys:
        log.client.delete(*keys)
    log.close()


def _lines(engine: Engine, tenant: TenantInfo, ids: list[str]) -> bytes:
    source, _ = tenancy.create_source(engine, tenant.slug, f"site-{uuid.uuid4().hex[:6]}", "web")
    body = orjson.dumps(
        {"batch": [{"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": m} for m in ids]}
    )
    processed = service.process(
        service.decode_body(body, "batch"),
        "batch",
        source,
        datetime.now(UTC),
        wal_sealer(engine, tenant.id),
    )
    return b"".join(a.line for a in processed.accepted)


def _loader(
    cfg: Settings, engine: Engine, log: RedisStreamLog, warehouses: WarehouseRegistry
) -> StreamLoader:
    return StreamLoader(
        cfg,
        log,
        warehouses,
        lambda tenant_id: tenants.get_tenant_by_id(engine, tenant_id),
        vault_sink(engine),
        Shard(0, 1).owns,
    )


def test_loader_resumes_after_its_commit_and_drops_duplicates_across_restarts(
    cluster_settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    log = RedisStreamLog.open(REDIS, cluster_settings.ingest_log_prefix, require_fsync=False)
    # A tenant the store no longer knows is skipped (and retried later) without holding up the others.
    log.append({"t_deleted": (_lines(engine, tenant, ["x1"]), b"")})
    log.append({tenant.id: (_lines(engine, tenant, ["m1", "m2"]), b"")})
    log.append({tenant.id: (_lines(engine, tenant, ["m2", "m3"]), b"")})
    warehouses = WarehouseRegistry(cluster_settings.warehouse_dir())
    assert _loader(cluster_settings, engine, log, warehouses).load_available() == 2
    assert log.backlog(tenant.id).entries == 0, "committed entries are trimmed"
    assert log.backlog("t_deleted").entries == 1
    warehouses.close_all()

    # A new loader (a restart) reads its position and dedupe window from the warehouse.
    log.append({tenant.id: (_lines(engine, tenant, ["m1", "m4"]), b"")})
    warehouses = WarehouseRegistry(cluster_settings.warehouse_dir())
    restarted = _loader(cluster_settings, engine, log, warehouses)
    assert restarted.load_available() == 1
    rows = warehouses.get(tenant.id).query("SELECT message_id FROM events ORDER BY message_id")
    assert [r[0] for r in rows] == ["m1", "m2", "m3", "m4"]
    figures = restarted.figures()[tenant.id]
    assert (figures.loaded, figures.deduplicated) == (1, 1)
    warehouses.close_all()
    log.close()


def test_an_entry_that_cannot_load_is_quarantined_and_the_tenant_moves_on(
    cluster_settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    log = RedisStreamLog.open(REDIS, cluster_settings.ingest_log_prefix, require_fsync=False)
    good = _lines(engine, tenant, ["ok1"])
    bad = orjson.loads(_lines(engine, tenant, ["bad1"]))
    bad["revenue"] = "not a number"  # the edge never lets this through; the loader must still cope
    log.append({tenant.id: (good + orjson.dumps(bad) + b"\n", b"")})
    log.append({tenant.id: (_lines(engine, tenant, ["ok2"]), b"")})
    warehouses = WarehouseRegistry(cluster_settings.warehouse_dir())
    assert _loader(cluster_settings, engine, log, warehouses).load_available() == 2
    warehouse = warehouses.get(tenant.id)
    assert [r[0] for r in warehouse.query("SELECT message_id FROM events ORDER BY 1")] == ["ok1", "ok2"]
    reasons = warehouse.query("SELECT reason FROM ingest_dead_letters")
    assert len(reasons) == 1 and reasons[0][0].startswith("accepted but could not be loaded")
    assert log.backlog(tenant.id).entries == 0
    warehouses.close_all()
    log.close()


def test_doctor_reports_each_tenants_log_backlog(
    cluster_settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    log = RedisStreamLog.open(REDIS, cluster_settings.ingest_log_prefix, require_fsync=False)
    log.append({tenant.id: (_lines(engine, tenant, ["d1"]), b"")})
    log.close()
    check = check_ingest_log(cluster_settings, {tenant.id: tenant.slug})
    assert check.status is Status.ok, check.detail
    assert check.data[tenant.slug]["entries"] == 1
