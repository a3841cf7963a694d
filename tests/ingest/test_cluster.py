"""Cluster mode end to end: 2 ingest processes and 2 loaders as real processes on a real Redis, a kill -9
of a loader mid-load and of an ingest process mid-request; every acknowledged event lands exactly once."""

from __future__ import annotations

import itertools
import threading
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine

from ecomops.ingest.redis_log import LogNotDurable, RedisStreamLog, check_fsync
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.connection import connect, warehouse_path
from ecomops.platform.warehouse.ownership import shard_of
from ecomops.tenancy import service as tenancy
from tests.ingest.cluster_support import Proc, cluster_env, start_ingest, start_loader, start_redis
from tests.timing import DEADLINE, wait_until

#: Acknowledged events before each crash, so it lands in a busy stream.
ACKED_BEFORE_CRASH = 1500


def _tenants_on_both_shards(engine: Engine) -> list[TenantInfo]:
    """Tenants until each of the 2 shards has one (ids are random)."""
    made: list[TenantInfo] = []
    for n in itertools.count():
        made.append(tenancy.create_tenant(engine, f"shop{n}", f"Shop {n}", "Asia/Shanghai", "CNY"))
        if {shard_of(t.id, 2) for t in made} == {0, 1}:
            return made
    raise AssertionError("unreachable")


class Traffic:
    """Clients posting batches to both ingest processes; each batch re-sends 10 messageIds of the previous
    one (to the other process), so duplicates cross processes. Records what was acknowledged."""

    def __init__(self, urls: list[str], keys: dict[str, str]) -> None:
        self.urls = urls
        self.keys = keys
        self.acked: dict[str, set[str]] = {slug: set() for slug in keys}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.count = 0
        #: Acknowledged events that repeat a messageId acknowledged before (through the other process).
        self.resent = 0

    def acked_total(self) -> int:
        with self.lock:
            return self.count

    def run(self, worker: int) -> None:
        clients = [httpx.Client(base_url=u, timeout=DEADLINE) for u in self.urls]
        slugs = list(self.keys)
        previous: dict[str, list[str]] = {slug: [] for slug in slugs}
        try:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                # A tenant's consecutive batches alternate between the processes, so a repeat crosses them.
                slug, client = slugs[n % len(slugs)], clients[(n // len(slugs)) % len(clients)]
                ids = [f"w{worker}-{n}-{i}" for i in range(90)]
                resent = previous[slug][:10]
                batch = [
                    {"type": "track", "event": "Product Viewed", "userId": f"u{worker}", "messageId": m,
                     "properties": {"product_id": f"p{i % 7}"}}
                    for i, m in enumerate(ids + resent)
                ]  # fmt: skip
                batch.append(
                    {"type": "identify", "userId": f"u{worker}", "messageId": f"w{worker}-{n}-id",
                     "traits": {"email": f"u{worker}@example.com", "plan": "gold"}}
                )  # fmt: skip
                try:
                    r = client.post("/v1/batch", json={"batch": batch}, auth=(self.keys[slug], ""))
                except httpx.HTTPError:
                    continue  # that process died under us: the batch was never acknowledged
                if r.status_code == 200:
                    assert r.json()["rejected"] == [], r.text
                    with self.lock:
                        self.acked[slug].update(m["messageId"] for m in batch)
                        self.count += len(batch)
                        self.resent += len(resent)
                    previous[slug] = ids
                else:
                    assert r.status_code == 429, r.text
        finally:
            for c in clients:
                c.close()


@pytest.mark.slow
def test_two_ingest_processes_two_loaders_survive_kill_9(
    tmp_path: Path, data_dir: Path, engine: Engine
) -> None:
    shops = _tenants_on_both_shards(engine)
    keys = {t.slug: tenancy.create_source(engine, t.slug, "site", "web")[1] for t in shops}
    redis_proc, log_url = start_redis(tmp_path / "redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    store = f"sqlite:///{data_dir / 'ecomops.sqlite3'}"
    env = {name: cluster_env(tmp_path / name, store, log_url, prefix) for name in ("a", "b", "l0", "l1")}
    procs: list[Proc] = [redis_proc]
    try:
        ingest_a = start_ingest(tmp_path / "a", env["a"])
        ingest_b = start_ingest(tmp_path / "b", env["b"])
        loaders = [
            start_loader(tmp_path / f"l{i}", env[f"l{i}"], ["--shard", str(i), "--shards", "2"])
            for i in (0, 1)
        ]
        procs += [ingest_a, ingest_b, *loaders]
        traffic = Traffic([ingest_a.url, ingest_b.url], keys)
        workers = [threading.Thread(target=traffic.run, args=(w,)) for w in range(4)]
        for w in workers:
            w.start()
        try:
            wait_until(lambda: traffic.acked_total() >= ACKED_BEFORE_CRASH, "traffic before the loader crash")
            loaders[0].kill9()  # mid-load: its tenants' entries keep arriving
            mark = traffic.acked_total()
            wait_until(lambda: traffic.acked_total() >= mark + ACKED_BEFORE_CRASH, "traffic without loader 0")
            loaders[0] = start_loader(tmp_path / "l0", env["l0"], ["--shard", "0", "--shards", "2"])
            procs.append(loaders[0])
            mark = traffic.acked_total()
            wait_until(
                lambda: traffic.acked_total() >= mark + ACKED_BEFORE_CRASH, "traffic before the ingest crash"
            )
            ingest_a.kill9()  # requests to it are in flight: those are never acknowledged
            mark = traffic.acked_total()
            wait_until(
                lambda: traffic.acked_total() >= mark + ACKED_BEFORE_CRASH, "traffic on ingest b alone"
            )
        finally:
            traffic.stop.set()
            for w in workers:
                w.join(DEADLINE)

        metrics = httpx.get(ingest_b.url + "/metrics", timeout=DEADLINE).text
        assert "ecomops_ingest_log_backlog_entries{" in metrics
        event_log = RedisStreamLog.open(log_url, prefix, require_fsync=True)
        try:
            wait_until(
                lambda: all(event_log.backlog(t.id).entries == 0 for t in shops),
                "loaders to catch up",
                timeout=60,
            )
        finally:
            event_log.close()
        for loader in loaders:
            loader.stop()
        assert loaders[1].proc.returncode == 0, loaders[1].log()
        assert traffic.resent > 0
    finally:
        for proc in reversed(procs):
            proc.stop()

    for tenant in shops:
        owner = tmp_path / f"l{shard_of(tenant.id, 2)}"
        con = connect(warehouse_path(owner / "warehouse", tenant.id), read_only=True)
        try:
            total, distinct = con.execute(
                "SELECT count(*), count(DISTINCT message_id) FROM events"
            ).fetchone()
            stored = {r[0] for r in con.execute("SELECT message_id FROM events").fetchall()}
            traits = con.execute("SELECT traits FROM events WHERE type = 'identify' LIMIT 1").fetchone()
        finally:
            con.close()
        assert total == distinct, f"{tenant.slug}: an event was loaded twice"
        missing = traffic.acked[tenant.slug] - stored
        assert not missing, (
            f"{tenant.slug}: {len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
        )
        assert traits is not None and "example.com" not in traits[0], "PII must be sealed, not stored"


def test_the_log_refuses_a_redis_that_does_not_fsync_each_write(tmp_path: Path) -> None:
    redis_proc, url = start_redis(tmp_path / "redis", appendfsync="everysec")
    client = redis.Redis.from_url(url)
    try:
        with pytest.raises(LogNotDurable, match="appendfsync=everysec"):
            check_fsync(client)
        client.config_set("appendfsync", "always")
        check_fsync(client)
    finally:
        client.close()
        redis_proc.stop()


def test_a_server_with_a_loader_shard_loads_its_tenants_and_reports_duplicates(
    tmp_path: Path, data_dir: Path, engine: Engine, tenant: TenantInfo
) -> None:
    _, key = tenancy.create_source(engine, tenant.slug, "site", "web")
    redis_proc, log_url = start_redis(tmp_path / "redis")
    env = cluster_env(
        tmp_path / "serve",
        f"sqlite:///{data_dir / 'ecomops.sqlite3'}",
        log_url,
        f"test-{uuid.uuid4().hex[:8]}:",
        ECOMOPS_INGEST_LOADER_SHARD="0/1",
    )
    server = start_ingest(tmp_path / "serve", env)
    try:
        with httpx.Client(base_url=server.url, auth=(key, ""), timeout=DEADLINE) as client:

            def send(ids: list[str]) -> dict[str, object]:
                batch = [{"type": "track", "event": "E", "userId": "u", "messageId": m} for m in ids]
                answer: dict[str, object] = client.post("/v1/batch", json={"batch": batch}).json()
                return answer

            assert send(["m1", "m2", "m2"]) == {
                "success": True,
                "accepted": 2,
                "duplicates": 1,
                "rejected": [],
            }
            # A repeat of an earlier request is accepted by the ingest side and dropped by the loader.
            assert send(["m1", "m3"]) == {"success": True, "accepted": 2, "duplicates": 0, "rejected": []}

            def deduplicated() -> bool:
                metrics = httpx.get(server.url + "/metrics", timeout=DEADLINE).text
                line = f'ecomops_ingest_events_total{{outcome="deduplicated",tenant="{tenant.slug}"}} 2.0'
                return line in metrics and "ecomops_ingest_log_backlog_entries{" in metrics

            wait_until(deduplicated, "the loader to drop the repeat")
    finally:
        server.stop()
        redis_proc.stop()
    con = connect(warehouse_path(tmp_path / "serve" / "warehouse", tenant.id), read_only=True)
    try:
        rows = con.execute("SELECT message_id FROM events ORDER BY 1").fetchall()
    finally:
        con.close()
    assert [r[0] for r in rows] == ["m1", "m2", "m3"]
