"""What one ingest load costs as the hour and day fill up (issue 11: freshness at real traffic).

An ingest load inserts its events and brings the rollups up to date in the same transaction. If that
cost grows with the traffic already received in the hour and day, freshness collapses as a busy day goes
on, which a bench starting from an empty warehouse never shows. This script fills a warehouse with
``N`` events spread over the last hour (typed SQL, no JSON), rebuilds the rollups, keeps day rollups in
Asia/Shanghai, then times loads of 200 storefront-like events (page views, product views and adds, 1.5 %
orders with ``--orders``) into the same hour through the loader's own ``load_events``. It prints the
median and max per load for each ``N`` and the ratio to ``N = 0`` (the baseline, same run): a ratio near
1 means the load costs what its own events cost.

Usage: python bench/rollups.py [--sizes 0,300000,1500000] [--loads 7] [--orders]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecomops.analytics import rollups
from ecomops.ingest.loader import EVENT_SCHEMA, load_events, parse_lines
from ecomops.platform.warehouse.connection import Warehouse, connect

LOAD_EVENTS = 200
VISITORS = 50_000

_FILL = """INSERT INTO events (message_id, type, event, anonymous_id, ts, received_at, channel, utm_source,
        device, product_id)
    SELECT 'b' || i, CASE WHEN i % 3 = 0 THEN 'page' ELSE 'track' END,
           CASE WHEN i % 3 = 0 THEN NULL WHEN i % 7 = 0 THEN 'Product Added' ELSE 'Product Viewed' END,
           'v' || (i % $visitors), $start::TIMESTAMPTZ + to_seconds(i % 3000), $start::TIMESTAMPTZ,
           CASE WHEN i % 2 = 0 THEN 'web' ELSE 'douyin' END, 'baidu', 'mobile', 'p' || (i % 500)
    FROM range($n) t(i)"""


def _event(seq: int, i: int, at: datetime, orders: bool) -> dict[str, object]:
    us = int(at.timestamp() * 1_000_000)
    visitor = f"v{(seq * LOAD_EVENTS + i) % VISITORS}"
    props: dict[str, object] = {"product_id": f"p{i % 100}"}
    kind, name = ("page", None) if i % 3 == 0 else ("track", "Product Viewed" if i % 7 else "Product Added")
    if orders and i % 67 == 0:
        kind, name = "track", "Order Completed"
        props = {
            "order_id": f"o{seq}_{i}",
            "products": [{"product_id": "p1", "price": "19.90", "quantity": 1}],
        }
    return {
        "message_id": f"n{seq}_{i}",
        "type": kind,
        "event": name,
        "anonymous_id": visitor,
        "user_id": f"u{visitor}" if name == "Order Completed" else None,
        "ts": us,
        "received_at": us,
        "sent_at": us,
        "source_id": "bench",
        "channel": "web",
        "properties": json.dumps(props),
        "context": json.dumps({"campaign": {"source": "baidu"}, "device": {"type": "mobile"}}),
    }


def _load(warehouse: Warehouse, seq: int, at: datetime, orders: bool) -> float:
    lines = [json.dumps(_event(seq, i, at + timedelta(seconds=i % 60), orders)) for i in range(LOAD_EVENTS)]
    table = parse_lines(("\n".join(lines) + "\n").encode(), EVENT_SCHEMA)
    started = time.perf_counter()
    with warehouse.write() as cur:
        load_events(cur, table, "CNY")
    return time.perf_counter() - started


def run(n: int, loads: int, orders: bool, folder: Path) -> list[float]:
    path = folder / f"w{n}.duckdb"
    warehouse = Warehouse("t_bench", path, connect(path))
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        with warehouse.write() as cur:
            if n:
                cur.execute(_FILL, {"n": n, "visitors": VISITORS, "start": hour - timedelta(hours=1)})
                rollups.rebuild(cur)
            rollups.keep_days_in(cur, "Asia/Shanghai")
        _load(warehouse, 0, hour, orders)  # first load: statement caches, temp catalog
        return [_load(warehouse, seq, hour, orders) for seq in range(1, loads + 1)]
    finally:
        warehouse.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="0,300000,1500000", help="events already in the hour (first: baseline)"
    )
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--orders", action="store_true", help="1.5 %% of each load are Order Completed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="ecomops-bench-rollups-") as tmp:
        base = None
        for n in sizes:
            times = run(n, args.loads, args.orders, Path(tmp))
            median = statistics.median(times)
            base = base or median
            print(
                f"{n:>10,} events in the hour: load of {LOAD_EVENTS} events median {median * 1000:7.1f} ms, "
                f"max {max(times) * 1000:7.1f} ms, ratio to the first size {median / base:5.2f}"
            )


if __name__ == "__main__":
    main()
