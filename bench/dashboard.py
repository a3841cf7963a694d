"""Overview dashboard speed from rollups vs the raw facts, and what rollup maintenance costs at ingest.

1. Shop: ``ecomops demo seed``'s simulator (``--days``/``--customers``) written to a fresh warehouse; the
   writer rebuilds the rollups in the same transaction. The simulator makes about one order per 100
   events, so ≥ 1 M orders would need ≥ 100 M events (far beyond a 2-core, 24 GiB machine). To reach the
   1 M orders the issue asks for next to the ≥ 10 M simulated events, ``--order-copies N`` adds N copies
   of every simulated order with its lines (new order, line and customer ids, the same hours shifted by
   k minutes); the rollups are rebuilt afterwards, then the day rollups are built in the shop's zone
   (what the server does on its first metrics request). The copies are reported separately. ``--shop DIR``
   keeps the built shop and reuses it on later runs (each run's maintenance step adds 50,000 events).
2. Dashboard: the four metric calls the overview page makes (``ecomops.analytics.overview``: KPI cards with
   comparisons, channel mix, top products, campaigns) for the last 30 days, on day buckets in
   Asia/Shanghai, through ``engine.compute_for_warehouse`` (what ``GET /metrics`` runs, without HTTP),
   ``--rounds`` times with ``source=auto`` (rollups) and ``--raw-rounds`` times with ``source=facts`` in
   the same run: p50/p95 per call and per page (the four calls one after the other), and the ratio.
   Two scenarios: *live* loads 200 new events (with orders) into the last hour before each page, so
   the current period's kept distinct counts (``analytics.rollup_cache``) are recomputed while older
   periods' stay kept, as on a shop taking orders; *cold* clears the kept counts before each page.
   Both answers are compared (they must be identical). Then the console page's whole wait: the four
   calls, the funnel (raw events) and the table counts run concurrently, as ``overview.load`` runs them.
3. Maintenance: ``--batches`` loads of 10,000 events (page views, product views, add-to-carts and ~1 %
   order completions in the shop's last two hours) through ``ingest.loader.load_events``; the time of
   ``rollups.refresh`` inside each load is measured apart from the rest of the load.

4. ``--first-call DATA_DIR`` (instead of 1-3): the first overview call after a restart, over HTTP. DATA_DIR
   is an ecomops data dir whose shop ``--tenant`` (default ``bench``) was seeded beforehand (e.g.
   ``ecomops demo seed``). Each round restarts ``ecomops serve`` with the start-up warm-up switched off
   and on (alternating, so machine load hits both alike), waits ``--settle`` seconds after /readyz (a
   person opening the dashboard shortly after a deploy), then times the overview's four metric calls
   (``GET /api/v1/t/{shop}/metrics``, the page's default range: the 30 days ending today in the shop's
   zone) one after the other, twice: the first call and the first page are what a restart costs, the
   second page is warm.

Usage: ``.venv/bin/python bench/dashboard.py [--days 400] [--customers 125000] [--order-copies 10]
[--shop DIR] [--skip-maintenance]`` or ``bench/dashboard.py --first-call DATA_DIR [--rounds 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from _serving import start_server
from ecomops.analytics import engine, funnel, overview, rollup_cache, rollups
from ecomops.ingest import loader
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.simulate.generate import simulate
from ecomops.simulate.params import SeedParams, Shop
from ecomops.simulate.tables import all_tables
from ecomops.simulate.writer import delete_simulated, write_tables

END = date(2026, 11, 30)
#: Tells one run's maintenance events from another's when a kept shop (--shop) is reused.
RUN = uuid.uuid4().hex[:8]
TENANT = TenantInfo("bench", "bench", "Bench", "Asia/Shanghai", "CNY", datetime(2026, 1, 1, tzinfo=UTC))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def copy_orders(warehouse: Warehouse, copies: int) -> None:
    """Add ``copies`` copies of every simulated order and its lines (see the module docstring)."""
    with warehouse.write() as cur:
        for k in range(1, copies + 1):
            params = [f":c{k}", k]
            cur.execute(
                """INSERT INTO orders BY NAME
                   SELECT * REPLACE (order_id || $1 AS order_id, external_id || $1 AS external_id,
                                     customer_id || $1 AS customer_id, anonymous_id || $1 AS anonymous_id,
                                     ordered_at + to_minutes($2) AS ordered_at)
                   FROM orders WHERE starts_with(order_id, 'sim_') AND NOT contains(order_id, ':c')""",
                params,
            )
            cur.execute(
                """INSERT INTO order_items BY NAME
                   SELECT * REPLACE (item_id || $1 AS item_id, order_id || $1 AS order_id,
                                     ordered_at + to_minutes($2) AS ordered_at)
                   FROM order_items WHERE starts_with(order_id, 'sim_') AND NOT contains(order_id, ':c')""",
                params,
            )
        rollups.rebuild(cur)


def queries(first: date, last: date) -> list[engine.MetricsQuery]:
    """The overview page's metric calls (console/overview.py load())."""
    common: dict[str, Any] = {"first": first, "last": last, "granularity": "day"}
    return [
        engine.MetricsQuery(ids=[c.metric for c in overview.CARDS], **common),
        engine.MetricsQuery(
            ids=list(overview.CHANNEL_METRICS), breakdown="channel", limit=overview.TOP_CHANNELS, **common
        ),
        engine.MetricsQuery(
            ids=list(overview.PRODUCT_METRICS),
            breakdown="product",
            limit=overview.TOP_PRODUCTS,
            compare=False,
            **common,
        ),
        engine.MetricsQuery(
            ids=list(overview.CAMPAIGN_METRICS),
            breakdown="campaign",
            limit=overview.TOP_CAMPAIGNS,
            compare=False,
            **common,
        ),
    ]


NAMES = ["cards", "channels", "products", "campaigns"]


def time_page(warehouse: Warehouse, qs: list[engine.MetricsQuery], source: str) -> tuple[list[float], list]:
    times, answers = [], []
    for q in qs:
        q = engine.MetricsQuery(**{**q.__dict__, "source": source})
        t = time.perf_counter()
        answer = engine.compute_for_warehouse(warehouse, TENANT, q)
        times.append(time.perf_counter() - t)
        assert answer.source == ("facts" if source == "facts" else "rollups"), answer.source
        answers.append(replace(answer, source=""))
    return times, answers


def time_console_page(warehouse: Warehouse, qs: list[engine.MetricsQuery], first: date, last: date) -> float:
    """What the console's overview page waits for (``console.overview.load``): the four metric calls,
    the funnel and the table counts, run concurrently on their own cursors, as the page runs them."""

    def funnel_call() -> Any:
        cur = warehouse.cursor()
        try:
            return funnel.compute(cur, first, last, TENANT.timezone)
        finally:
            cur.close()

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(qs) + 2) as pool:
        futures = [pool.submit(engine.compute_for_warehouse, warehouse, TENANT, q) for q in qs]
        futures += [pool.submit(funnel_call), pool.submit(overview.table_counts, warehouse)]
        for f in futures:
            f.result()
    return time.perf_counter() - t


def event_lines(n: int, start: datetime, seq: int) -> bytes:
    """``n`` WAL lines in the shop's last two hours: views, carts and ~1 % orders."""
    out = []
    for i in range(n):
        ts = start + timedelta(seconds=(i * 7200) // n)
        us = int(ts.timestamp() * 1_000_000)
        visitor = f"bench_a{(seq * n + i) % 50_000}"
        kind = i % 100
        base = {
            "message_id": f"bench_{RUN}_{seq}_{i}",
            "anonymous_id": visitor,
            "user_id": None,
            "ts": us,
            "received_at": us,
            "sent_at": us,
            "source_id": "src_bench",
            "channel": "web",
            "context": json.dumps(
                {"device": {"type": "mobile"}, "location": {"country": "CN", "region": "Zhejiang"}}
            ),
        }
        if kind == 0:
            props = {"order_id": f"bench_o{RUN}_{seq}_{i}", "products": [{"product_id": "p1", "price": 9.9}]}
            base |= {"type": "track", "event": "Order Completed", "properties": json.dumps(props)}
        elif kind < 10:
            base |= {
                "type": "track",
                "event": "Product Added",
                "properties": json.dumps({"product_id": "p1"}),
            }
        else:
            base |= {"type": "page", "event": None, "properties": json.dumps({"path": "/p/1"})}
        out.append(json.dumps(base))
    return ("\n".join(out) + "\n").encode()


def maintenance(warehouse: Warehouse, batches: int) -> dict[str, float]:
    last_event = warehouse.query("SELECT max(ts) FROM events")[0][0]
    start = last_event - timedelta(hours=2)
    refresh_times: list[float] = []
    original = rollups.refresh

    def timed(*args: Any, **kwargs: Any) -> rollups.RefreshStats:
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            refresh_times.append(time.perf_counter() - t)

    loads = []
    # The loader reaches the rollups through the facts hook (rollups.on_facts_changed calls refresh).
    rollups.refresh = timed  # type: ignore[assignment]
    try:
        for seq in range(batches):
            table = loader.parse_lines(event_lines(10_000, start, seq), loader.EVENT_SCHEMA)
            t = time.perf_counter()
            with warehouse.write() as cur:
                loader.load_events(cur, table, "CNY")
            loads.append(time.perf_counter() - t)
    finally:
        rollups.refresh = original  # type: ignore[assignment]
    return {
        "batches": batches,
        "load_ms_p50": statistics.median(loads) * 1000,
        "refresh_ms_p50": statistics.median(refresh_times) * 1000,
        "refresh_ms_max": max(refresh_times) * 1000,
        "refresh_share_of_load": statistics.median(
            r / lo for r, lo in zip(refresh_times, loads, strict=True)
        ),
    }


def build_shop(warehouse: Warehouse, args: argparse.Namespace) -> dict[str, Any]:
    """Simulate the shop, write it, add the order copies and time a full rollup rebuild."""
    result: dict[str, Any] = {}
    t = time.perf_counter()
    sim = simulate(
        SeedParams(days=args.days, customers=args.customers, seed=42, end_date=END),
        Shop(TENANT.timezone, TENANT.currency),
    )
    tables = all_tables(sim)
    as_of_us = sim.as_of_us
    del sim
    result["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with warehouse.write() as cur:
        delete_simulated(cur)
        write_tables(cur, tables, TENANT.currency, as_of_us)
    result["write_with_rollups_s"] = time.perf_counter() - t
    del tables
    t = time.perf_counter()
    if args.order_copies:
        copy_orders(warehouse, args.order_copies)
    result["order_copies_and_rebuild_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with warehouse.write() as cur:
        rollups.rebuild(cur)
    result["rollup_rebuild_s"] = time.perf_counter() - t
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _page_calls(client: httpx.Client, slug: str, first: date, last: date) -> list[float]:
    """The overview's four metric calls over HTTP, one after the other: seconds of each."""
    times = []
    for q in queries(first, last):
        params: dict[str, Any] = {
            "ids": ",".join(q.ids),
            "from": q.first.isoformat() if q.first else None,
            "to": q.last.isoformat() if q.last else None,
            "granularity": q.granularity,
            "compare": str(q.compare).lower(),
        }
        if q.breakdown:
            params |= {"breakdown": q.breakdown, "limit": q.limit}
        started = time.perf_counter()
        answer = client.get(f"/api/v1/t/{slug}/metrics", params={k: v for k, v in params.items() if v})
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
        assert answer.json()["source"] == "rollups", answer.json()["source"]
    return times


def first_call_after_restart(data_dir: Path, slug: str, rounds: int, settle: float) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["ECOMOPS_DATA_DIR"] = str(data_dir)
    cli = [sys.executable, "-m", "ecomops.cli"]
    created = subprocess.run(
        [*cli, "apikey", "create", "--tenant", slug, "--role", "admin", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = str(json.loads(created.stdout)["key"])
    listed = subprocess.run(
        [*cli, "tenant", "list", "--json"], env=env, check=True, capture_output=True, text=True
    ).stdout
    zone = next(str(t["timezone"]) for t in json.loads(listed) if t["slug"] == slug)
    samples: dict[str, list[list[float]]] = {"off": [], "on": []}
    loads = [os.getloadavg()[0]]
    for _ in range(rounds):
        for mode in ("off", "on"):
            env["ECOMOPS_WARM_UP_SHOPS"] = "0" if mode == "off" else "20"
            port = _free_port()
            server = start_server(env, port)
            try:
                time.sleep(settle)
                with httpx.Client(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=120,
                ) as client:
                    today = datetime.now(ZoneInfo(zone)).date()
                    first_page = _page_calls(client, slug, today - timedelta(days=29), today)
                    second_page = _page_calls(client, slug, today - timedelta(days=29), today)
                samples[mode].append([*first_page, sum(first_page), sum(second_page)])
            finally:
                server.terminate()
                server.wait(60)
            loads.append(os.getloadavg()[0])
    print(
        f"first overview calls after a restart, shop {slug!r} ({zone}), {rounds} rounds, "
        f"settle {settle:g} s, "
        f"1-min load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    )
    labels = [*(f"first {n}" for n in NAMES), "first page (4 calls)", "second page"]
    print(f"{'':<22} {'warm-up off (median)':>22} {'warm-up on (median)':>22}")
    for i, label in enumerate(labels):
        off = statistics.median(r[i] for r in samples["off"]) * 1000
        on = statistics.median(r[i] for r in samples["on"]) * 1000
        print(f"{label:<22} {off:19.1f} ms {on:19.1f} ms")
    print(
        "runs (ms, first cards call): "
        + "; ".join(
            f"{mode}: {', '.join(f'{r[0] * 1000:.0f}' for r in samples[mode])}" for mode in ("off", "on")
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--customers", type=int, default=125_000)
    parser.add_argument("--order-copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--raw-rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--shop",
        type=Path,
        default=None,
        help="keep the built shop in this directory and reuse it on later runs (skips the build)",
    )
    parser.add_argument("--skip-maintenance", action="store_true", help="leave the shop unchanged")
    parser.add_argument("--first-call", type=Path, default=None, metavar="DATA_DIR", help="see 4. above")
    parser.add_argument("--tenant", default="bench", help="the seeded shop of --first-call")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after /readyz (--first-call)")
    args = parser.parse_args()
    if args.first_call is not None:
        first_call_after_restart(args.first_call, args.tenant, args.rounds, args.settle)
        return
    result: dict[str, Any] = {"load_average_start": os.getloadavg()}
    with contextlib.ExitStack() as stack:
        if args.shop is not None:
            args.shop.mkdir(parents=True, exist_ok=True)
            shop_dir = args.shop
        else:
            shop_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.workdir)))
        marker = shop_dir / "built.json"
        warehouse = open_warehouse(shop_dir, "bench")
        stack.callback(warehouse.close)
        if marker.exists():
            result["shop_reused"] = json.loads(marker.read_text())
        else:
            result |= build_shop(warehouse, args)
            marker.write_text(json.dumps({k: result[k] for k in ("generate_s", "write_with_rollups_s")}))
        t = time.perf_counter()
        with warehouse.write() as cur:
            if rollups.keep_days_in(cur, TENANT.timezone):
                result["day_rollups_build_s"] = time.perf_counter() - t
        counts = {
            table: warehouse.query(f"SELECT count(*) FROM {table}")[0][0]
            for table in ("events", "orders", "order_items", "refunds")
        }
        counts["simulated_orders"] = warehouse.query(
            "SELECT count(*) FROM orders WHERE NOT contains(order_id, ':c')"
        )[0][0]
        cur = warehouse.cursor()
        result["rollup_rows"] = rollups.status(cur).rows
        cur.close()
        result["counts"] = counts
        qs = queries(END - timedelta(days=29), END)
        time_page(warehouse, qs, "auto")  # warm-up (DuckDB caches, imports)
        last_event = warehouse.query("SELECT max(ts) FROM events")[0][0]
        scenarios: dict[str, dict[str, Any]] = {}
        rolled_answers: list[Any] = []
        for scenario in ("live", "cold"):
            per_call: list[list[float]] = [[] for _ in qs]
            pages: list[float] = []
            for round_no in range(args.rounds):
                if scenario == "live":
                    # A shop taking orders: new events in the last hour before every page view, so the
                    # current period's kept counts are dropped and recomputed; older periods stay kept.
                    table = loader.parse_lines(
                        event_lines(200, last_event - timedelta(hours=1), 10_000 + round_no),
                        loader.EVENT_SCHEMA,
                    )
                    with warehouse.write() as cur:
                        loader.load_events(cur, table, "CNY")
                else:
                    rollup_cache.CACHE.clear()  # nothing kept: every distinct count recomputed
                times, rolled_answers = time_page(warehouse, qs, "auto")
                for i, x in enumerate(times):
                    per_call[i].append(x)
                pages.append(sum(times))
            all_calls = [x for calls in per_call for x in calls]
            scenarios[scenario] = {
                "call_ms": {"p50": pct(all_calls, 0.5) * 1000, "p95": pct(all_calls, 0.95) * 1000},
                "per_call_ms": {
                    n: {"p50": pct(c, 0.5) * 1000, "p95": pct(c, 0.95) * 1000}
                    for n, c in zip(NAMES, per_call, strict=True)
                },
                "page_ms": {"p50": pct(pages, 0.5) * 1000, "p95": pct(pages, 0.95) * 1000},
            }
            scenarios[scenario]["answers"] = rolled_answers
        result["rollups"] = scenarios
        raw_calls: list[list[float]] = [[] for _ in qs]
        raw_pages: list[float] = []
        raw_answers: list[Any] = []
        for _ in range(args.raw_rounds):
            times, raw_answers = time_page(warehouse, qs, "facts")
            for i, x in enumerate(times):
                raw_calls[i].append(x)
            raw_pages.append(sum(times))
        result["answers_identical"] = {k: v.pop("answers") == raw_answers for k, v in scenarios.items()}
        first, last = END - timedelta(days=29), END
        time_console_page(warehouse, qs, first, last)  # warm-up
        console_pages = [time_console_page(warehouse, qs, first, last) for _ in range(args.rounds)]
        result["console_page_concurrent_ms"] = {
            "p50": pct(console_pages, 0.5) * 1000,
            "p95": pct(console_pages, 0.95) * 1000,
        }
        result["facts_per_call_ms_p50"] = {
            n: statistics.median(c) * 1000 for n, c in zip(NAMES, raw_calls, strict=True)
        }
        result["facts_page_ms_p50"] = statistics.median(raw_pages) * 1000
        result["page_ratio_facts_over_rollups_p50"] = {
            k: statistics.median(raw_pages) * 1000 / v["page_ms"]["p50"] for k, v in scenarios.items()
        }
        if not args.skip_maintenance:
            result["maintenance_per_10k_events"] = maintenance(warehouse, args.batches)
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
