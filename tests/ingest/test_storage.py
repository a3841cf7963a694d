"""Bytes on disk per realistic event, on a fixed sample, so storage does not regress silently.

20,000 storefront events (``bench/_traffic.py``, fixed seed: ~1.2 KB of JSON each, pages with clicks,
product events, identify traits, orders) go through the real HTTP path and pipeline; once everything is
loaded and checkpointed, the tenant's warehouse file (and its DuckDB WAL) is measured, the blocks in use,
and the blocks holding the events table (which grows with events; the other tables' first blocks do not).
The ingest WAL is not counted: loaded segments are deleted when they rotate, so it is bounded per tenant
(64 MB), not per event.
"""

from __future__ import annotations

import pytest
from bench._traffic import batches

from ecomops.platform.warehouse.connection import warehouse_path
from tests.conftest import InProcServer

EVENTS = 20_000
#: Measured 2026-12-08 on this sample (docs/benchmarks.md, "Storage"), with the standard context fields in
#: typed columns: 577 bytes per event in used blocks, 617 for the file, of which 170 the events table; the
#: rest is ~17 small tables at one 256 KB block each (~13 bytes/event each at 20k events) and the rollups.
#: At 100,000 events the same traffic takes 288 bytes per event in used blocks (the issue's 400 is met
#: there, not at 20k where the fixed blocks weigh ~220). Bounds with headroom for how many loads and
#: checkpoints a run takes.
MAX_EVENTS_TABLE_BYTES_PER_EVENT = 220
MAX_USED_BYTES_PER_EVENT = 650
MAX_FILE_BYTES_PER_EVENT = 950


def events_table_bytes(segments: list[tuple[int, int, int]], block_size: int) -> int:
    """Upper bound of the bytes the events table's segments take: each block it has a segment in, counted
    whole (other tables' segments may share it), plus the extra blocks of long strings."""
    return (len({block for block, _, _ in segments}) + sum(extra for _, _, extra in segments)) * block_size


@pytest.mark.slow
def test_disk_per_realistic_event_stays_bounded(server: InProcServer) -> None:
    with server.client() as client:
        for sample in batches(EVENTS // 100, "disk", seed=7):
            r = client.post("/v1/batch", content=sample.body, headers={"Content-Type": "application/json"})
            assert r.status_code == 200 and r.json()["accepted"] == 100, r.text
    assert server.query("SELECT count(*) FROM events")[0][0] == EVENTS
    warehouse = server.state.warehouses.get(server.tenant.id)
    with warehouse.write_lock:
        warehouse.con.execute("CHECKPOINT")
        row = warehouse.con.execute("SELECT used_blocks, block_size FROM pragma_database_size()").fetchone()
        segments = warehouse.con.execute(
            "SELECT block_id, block_offset, len(additional_block_ids) FROM pragma_storage_info('events') "
            "WHERE persistent AND block_id >= 0"
        ).fetchall()
    assert row is not None
    used = row[0] * row[1]
    table = events_table_bytes(segments, row[1])
    path = warehouse_path(server.state.settings.warehouse_dir(), server.tenant.id)
    on_disk = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))  # the file and its WAL
    assert table / EVENTS <= MAX_EVENTS_TABLE_BYTES_PER_EVENT, f"{table / EVENTS:,.0f} bytes/event in events"
    assert used / EVENTS <= MAX_USED_BYTES_PER_EVENT, f"{used / EVENTS:,.0f} bytes/event in used blocks"
    assert on_disk / EVENTS <= MAX_FILE_BYTES_PER_EVENT, f"{on_disk / EVENTS:,.0f} bytes/event on disk"
