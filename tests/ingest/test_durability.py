"""Acknowledged means durable: kill -9 the server mid-stream and find every acknowledged event."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.ingest.wal import TenantWal
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.connection import connect, warehouse_path
from ecomops.tenancy import service as tenancy
from tests.conftest import start_server
from tests.timing import DEADLINE

#: Acknowledged events to wait for before the kill, so it lands in a busy stream.
ACKED_BEFORE_KILL = 1000


def _stream(
    url: str, key: str, worker: int, acked: list[str], stop: threading.Event, enough: threading.Event
) -> None:
    with httpx.Client(base_url=url, auth=(key, ""), timeout=DEADLINE) as client:
        n = 0
        while not stop.is_set():
            ids = [f"w{worker}-{n}-{i}" for i in range(100)]
            n += 1
            batch = [
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "userId": f"u{worker}",
                    "messageId": m,
                    "properties": {"product_id": f"p{i}"},
                }
                for i, m in enumerate(ids)
            ]
            try:
                r = client.post("/v1/batch", json={"batch": batch})
            except httpx.HTTPError:
                return  # the server died under us: this batch was never acknowledged
            if r.status_code == 200:
                assert r.json()["accepted"] == len(ids), r.text
                acked.extend(ids)
                if len(acked) >= ACKED_BEFORE_KILL:
                    enough.set()


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_event(data_dir: Path, engine: Engine, tenant: TenantInfo) -> None:
    _, key = tenancy.create_source(engine, tenant.slug, "site", "web")
    server = start_server(data_dir)
    acked: list[str] = []
    stop, enough = threading.Event(), threading.Event()
    workers = [
        threading.Thread(target=_stream, args=(server.url, key, w, acked, stop, enough)) for w in range(4)
    ]
    for w in workers:
        w.start()
    # Kill once the stream has been acknowledged many times (however long that takes), while the four
    # workers keep posting: batches are in flight, some acknowledged, some not.
    streaming = enough.wait(DEADLINE)
    server.kill9()
    stop.set()
    for w in workers:
        w.join(DEADLINE)
    assert streaming, f"only {len(acked)} events acknowledged in {DEADLINE:g} s before the kill"
    assert not any(w.is_alive() for w in workers)

    restarted = start_server(data_dir)  # replays the WAL before it reports ready
    try:
        with httpx.Client(base_url=restarted.url, auth=(key, ""), timeout=DEADLINE) as client:
            replay = [{"type": "track", "event": "Product Viewed", "userId": "u0", "messageId": acked[0]}]
            again = client.post("/v1/batch", json={"batch": replay}).json()
    finally:
        restarted.stop()
    assert again == {"success": True, "accepted": 0, "duplicates": 1, "rejected": []}

    con = connect(warehouse_path(data_dir / "warehouse", tenant.id), read_only=True)
    stored = {r[0] for r in con.execute("SELECT message_id FROM events").fetchall()}
    total, distinct = con.execute("SELECT count(*), count(DISTINCT message_id) FROM events").fetchone()
    con.close()
    assert total == distinct, "an event was loaded twice"
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"


def test_full_queue_answers_429_with_retry_after(data_dir: Path, engine: Engine, tenant: TenantInfo) -> None:
    _, key = tenancy.create_source(engine, tenant.slug, "site", "web")
    server = start_server(data_dir, extra_env={"ECOMOPS_INGEST_QUEUE_MAX_EVENTS": "10"})
    try:
        batch = [{"type": "track", "event": "E", "userId": "u", "messageId": f"m{i}"} for i in range(11)]
        with httpx.Client(base_url=server.url, auth=(key, ""), timeout=DEADLINE) as client:
            r = client.post("/v1/batch", json={"batch": batch})
            assert r.status_code == 429
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"]["code"] == "overloaded"
            assert client.post("/v1/batch", json={"batch": batch[:10]}).json()["accepted"] == 10
    finally:
        server.stop()


def test_wal_cuts_a_torn_tail_and_keeps_whole_lines(tmp_path: Path) -> None:
    wal = TenantWal(tmp_path)
    wal.append("events", b'{"a":1}\n{"a":2}\n')
    wal.commit()
    wal.close()
    segment = next(tmp_path.glob("events-*.ndjson"))
    with open(segment, "ab") as fh:
        fh.write(b'{"a":3')  # a write cut short by a crash, never acknowledged
    reopened = TenantWal(tmp_path)
    assert reopened.read(segment.name, 0) == b'{"a":1}\n{"a":2}\n'
    assert segment.read_bytes() == b'{"a":1}\n{"a":2}\n'
    reopened.append("events", b'{"a":4}\n')  # a new process writes a new segment
    reopened.commit()
    names = reopened.segments("events")
    assert len(names) == 2 and names[0] == segment.name
    assert reopened.read(names[1], 0) == b'{"a":4}\n'


def test_wal_rolls_segments_and_loader_drops_loaded_ones(tmp_path: Path) -> None:
    wal = TenantWal(tmp_path, segment_max_bytes=10)
    wal.append("events", b'{"a":1}\n{"a":2}\n')
    wal.commit()
    wal.append("events", b'{"a":3}\n')
    wal.commit()
    names = wal.segments("events")
    assert len(names) == 2 and names == sorted(names)
    assert not wal.is_current(names[0])
    wal.drop(names[0])
    assert wal.segments("events") == [names[1]]
    # Once every segment is gone a new one never reuses an old name (a stale offset row could match it).
    wal.drop(names[1])
    wal.close()
    fresh = TenantWal(tmp_path, segment_max_bytes=10)
    fresh.append("events", b'{"a":5}\n')
    fresh.commit()
    assert fresh.segments("events")[0] > names[1]


def test_a_failed_group_commit_leaves_the_wal_as_it_was(tmp_path: Path) -> None:
    """Found in review: bytes of a refused group must not be loaded later (their retry is stored too)."""
    wal = TenantWal(tmp_path)
    wal.append("events", b'{"a":1}\n')
    wal.commit()
    (name,) = wal.segments("events")
    wal.begin()
    wal.append("events", b'{"a":2}\n')
    wal.sync()  # this tenant's part reached the disk, another tenant's failed: the group is refused
    wal.rollback()
    assert wal.read(name, 0) == b'{"a":1}\n'
    assert (tmp_path / name).read_bytes() == b'{"a":1}\n'
    wal.append("events", b'{"a":3}\n')
    wal.commit()
    assert wal.read(name, 0) == b'{"a":1}\n{"a":3}\n'


def test_a_line_that_cannot_be_loaded_is_quarantined_not_retried_forever(tmp_path: Path) -> None:
    """Found in review: one unloadable line failed every load, so later events never arrived."""
    import orjson

    from ecomops.ingest.loader import load_pending
    from ecomops.platform.warehouse.connection import open_warehouse

    def line(mid: str, revenue: str | None) -> bytes:
        row = {
            "message_id": mid,
            "type": "track",
            "event": "E",
            "user_id": "u",
            "ts": 1_700_000_000_000_000,
            "received_at": 1_700_000_000_000_000,
            "source_id": "s",
            "channel": "web",
            "revenue": revenue,
        }
        return orjson.dumps(row) + b"\n"

    wal = TenantWal(tmp_path / "wal")
    wal.append("events", line("ok-1", "1.5") + line("bad", "not a number") + line("ok-2", None))
    wal.commit()
    wh = open_warehouse(tmp_path, "t")
    try:
        load_pending(wal, wh, "CNY")
        assert wh.query("SELECT message_id FROM events ORDER BY 1") == [("ok-1",), ("ok-2",)]
        ((reason, payload),) = wh.query("SELECT reason, payload FROM ingest_dead_letters")
        assert reason.startswith("accepted but could not be loaded")
        assert orjson.loads(payload)["message_id"] == "bad"
        wal.append("events", line("ok-3", "2"))
        wal.commit()
        load_pending(wal, wh, "CNY")  # loading goes on after the quarantined line
        assert wh.query("SELECT count(*) FROM events") == [(3,)]
    finally:
        wh.close()
