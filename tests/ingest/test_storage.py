"""Bytes on disk per realistic event, on a fixed sample, so storage does not regress silently.

20,000 storefront events (``bench/_traffic.py``, fixed seed: ~1.2 KB of JSON each, pages with clicks,
product events, identify traits, orders) go through the real HTTP path and pipeline; once everything is
loaded and checkpointed, the tenant's warehouse file (and its DuckDB WAL) is measured, and the blocks in
use. The ingest WAL is not counted: loaded segments are deleted when they rotate, so it is bounded per tenant
(64 MB), not per event.
"""

from __future__ import annotations

import pytest
from bench._traffic import batches

from ecomops.platform.warehouse.connection import warehouse_path
from tests.conftest import InProcServer

EVENTS = 20_000
#: Measured 2026-12-07 on this sample (docs/benchmarks.md, "Realistic traffic"): 839 bytes per event in
#: used blocks, 1,062 for the file, of which ~450 the compressed events table; at 20k events the ~14
#: small tables' one 256 KB block each add ~180 and checkpoints leave free blocks. Bounds with headroom for
#: how many loads and checkpoints a run takes; the goal (issue 11) is 400.
MAX_FILE_BYTES_PER_EVENT = 1_400
MAX_USED_BYTES_PER_EVENT = 1_000


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
    assert row is not None
    used = row[0] * row[1]
    path = warehouse_path(server.state.settings.warehouse_dir(), server.tenant.id)
    on_disk = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))  # the file and its WAL
    assert used / EVENTS <= MAX_USED_BYTES_PER_EVENT, f"{used / EVENTS:,.0f} bytes/event in used blocks"
    assert on_disk / EVENTS <= MAX_FILE_BYTES_PER_EVENT, f"{on_disk / EVENTS:,.0f} bytes/event on disk"
