"""Ingest throughput: a real ``ecomops serve`` process, concurrent keep-alive clients posting /v1/batch
of 100 events. Prints events/s and p50/p99 acknowledgement latency for the durable path (fsync per
group commit) and, as the in-run baseline, the same server with fsync off; the ratio is the cost
of durability. Usage: python bench/ingest.py [--batches 3000] [--clients 32]

``--abuse`` instead runs one durable server with two tenants (issue 10): tenant B's clients send good
100-event batches for ``--seconds`` alone (B's normal throughput), then as long again while tenant A's write
key sends junk at full speed (480 KB ``{"batch":[1,1,…]}`` bodies and batches of invalid events, never
backing off), then a flood: 400 connections posting 400-event batches (the load that used to take /healthz
to 2–3 s). Each party connects from its own loopback address (127.0.0.2 the abuser, .3 tenant B, .4 the
probe, .5 the flood) so the per-IP bucket limits each as it would distinct hosts. Prints B's events/s in
each phase and the ratio (target >= 0.80), the /healthz latency sampled every 20 ms (p99 target < 100 ms),
the answers the abuser and the flood got, and the server's RSS.
Usage: python bench/ingest.py --abuse [--seconds 20] [--clients 16]

``--realistic`` runs storefront traffic (issue 11; shapes and sizes in ``bench/_traffic.py``: ~1.2 KB events
with full context, 30 % pages with clicks, 58 % product events, 10 % identify with PII traits, 1.5 % orders)
against a durable server, once per client count (``--clients-list 8,32,64``), at full speed or paced
(``--rate`` events/s). Every body is built before the clock starts; a 429 is retried after its Retry-After
(a run with any 429 does not count as sustained). Per run it prints: events/s acknowledged and events/s
loaded (until the warehouse holds every event), the 429s, p50/p99 acknowledgement, ack-to-queryable p50/p99
per event type (a sample of message ids and order ids per batch, polled through the SQL API every 50 ms),
server RSS (peak and 5 s after loading finished), bytes on disk per event (warehouse files + DuckDB WAL +
ingest WAL, when loading finished and again after the server stopped). Beside it, in the same run, the floor
(``bench/_floor.py``: Starlette + uvicorn, parse the JSON, append + fsync per request) and the ratio.
Finally it checks every acknowledged event is in the warehouse exactly once.
Usage: python bench/ingest.py --realistic [--batches 2000] [--clients-list 8,32,64] [--rate 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from _serving import bench_shop, cli_json, post_batch, serving, wait_ready
from _traffic import Sample, batches, make_bodies

REPO = Path(__file__).resolve().parents[1]


async def client(
    host: str, port: int, auth: str, queue: asyncio.Queue[bytes], latencies: list[float], accepted: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            payload = await post_batch(reader, writer, auth, body)
            latencies.append(time.perf_counter() - start)
            accepted.append(json.loads(payload)["accepted"])
    finally:
        writer.close()


async def drive(port: int, key: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], int]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    auth = base64.b64encode(f"{key}:".encode()).decode()
    latencies: list[float] = []
    accepted: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(client("127.0.0.1", port, auth, queue, latencies, accepted) for _ in range(clients))
    )
    return time.perf_counter() - start, latencies, sum(accepted)


def run_case(label: str, fsync: bool, batches: int, clients: int) -> float:
    fsync_setting = "true" if fsync else "false"
    port = 18000 + os.getpid() % 1000
    with bench_shop("ecomops-bench-", ECOMOPS_INGEST_FSYNC=fsync_setting) as shop, serving(shop.env, port):
        key = shop.write_keys["bench"]
        bodies = make_bodies(batches, label)
        asyncio.run(drive(port, key, make_bodies(50, label + "-warm"), clients))
        elapsed, latencies, accepted = asyncio.run(drive(port, key, bodies, clients))
        if accepted != batches * 100:
            raise RuntimeError(f"expected {batches * 100} accepted events, got {accepted}")
        lat = sorted(latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[int(len(lat) * 0.99) - 1] * 1000
        rate = accepted / elapsed
        print(
            f"{label:<22} {rate:>12,.0f} events/s  {len(lat) / elapsed:>8,.0f} req/s  "
            f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({accepted:,} events, {clients} clients)"
        )
        return rate


# -- abuse run ------------------------------------------------------------------------------------

ABUSER, TENANT_B, PROBE, FLOOD = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"


class Conn:
    """One keep-alive HTTP/1.1 connection from a chosen local address; reconnects when the server closes."""

    def __init__(self, port: int, local: str) -> None:
        self.port = port
        self.local = local
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", auth: str = ""
    ) -> tuple[int, dict[str, str]]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(self.local, 0)
            )
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if auth:
            head += f"Authorization: Basic {auth}\r\nContent-Type: application/json\r\n"
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + body)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionResetError("closed")
            headers: dict[str, str] = {}
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            headers["body"] = (await self.reader.readexactly(int(headers.get("content-length", 0)))).decode()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            return 0, {}
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def good_batch(events: int) -> bytes:
    """``events`` good events (the shape ``make_bodies`` sends) whose messageIds start with ``TAGX-``:
    replacing that makes a new batch without building JSON per request."""
    body = make_bodies(1, "TAGX")[0].replace(b'"TAGX-0-', b'"TAGX-')
    if events == 100:
        return body
    decoded = json.loads(body)
    one = decoded["batch"][0]
    decoded["batch"] = [{**one, "messageId": f"TAGX-{i}"} for i in range(events)]
    return json.dumps(decoded).encode()


def junk_bodies() -> list[bytes]:
    ones = b'{"batch":[' + b",".join([b"1"] * 240_000) + b"]}"
    invalid = json.dumps({"batch": [{"type": "track", "userId": f"u{i}"} for i in range(100)]}).encode()
    return [ones, invalid]


async def good_client(
    port: int, auth: str, tag: str, events: int, stop: float, accepted: list[int], statuses: dict[int, int]
) -> None:
    conn = Conn(port, TENANT_B if tag.startswith("b") else FLOOD)
    template = good_batch(events)
    n = 0
    while time.perf_counter() < stop:
        n += 1
        status, headers = await conn.request(
            "POST", "/v1/batch", template.replace(b'"TAGX-', f'"{tag}-{n}-'.encode()), auth
        )
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            accepted.append(json.loads(headers["body"])["accepted"])
        elif status == 429:  # a well-behaved SDK waits as told
            await asyncio.sleep(
                min(float(headers.get("retry-after", "1")), max(0.0, stop - time.perf_counter()))
            )
        elif status == 0:
            await asyncio.sleep(0.05)
    conn.close()


async def abuser(port: int, auth: str, stop: float, statuses: dict[int, int]) -> None:
    conn = Conn(port, ABUSER)
    bodies = junk_bodies()
    n = 0
    while time.perf_counter() < stop:
        n += 1
        status, _ = await conn.request("POST", "/v1/batch", bodies[n % 2], auth)
        statuses[status] = statuses.get(status, 0) + 1
    conn.close()


async def probe(port: int, stop: float, latencies: list[float]) -> None:
    conn = Conn(port, PROBE)
    while time.perf_counter() < stop:
        start = time.perf_counter()
        status, _ = await conn.request("GET", "/healthz")
        if status == 200:
            latencies.append(time.perf_counter() - start)
        else:
            latencies.append(float("inf"))
        await asyncio.sleep(0.02)
    conn.close()


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def phase(
    port: int, keys: dict[str, str], seconds: float, clients: int, abusers: int, flood: int, name: str
) -> dict[str, object]:
    stop = time.perf_counter() + seconds
    accepted: list[int] = []
    flood_accepted: list[int] = []
    b_status: dict[int, int] = {}
    a_status: dict[int, int] = {}
    f_status: dict[int, int] = {}
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        probe(port, stop, latencies),
        *(good_client(port, keys["b"], f"b{name}{i}", 100, stop, accepted, b_status) for i in range(clients)),
        *(abuser(port, keys["a"], stop, a_status) for _ in range(abusers)),
        *(
            good_client(port, keys["b"], f"f{name}{i}", 400, stop, flood_accepted, f_status)
            for i in range(flood)
        ),
    )
    elapsed = time.perf_counter() - started
    lat = sorted(latencies)
    return {
        "b_rate": sum(accepted) / elapsed,
        "b_status": b_status,
        "a_status": a_status,
        "f_rate": sum(flood_accepted) / elapsed,
        "f_status": f_status,
        "probes": len(lat),
        "p50": statistics.median(lat) * 1000,
        "p99": lat[max(0, math.ceil(len(lat) * 0.99) - 1)] * 1000,
        "max": lat[-1] * 1000,
    }


def run_abuse(seconds: float, clients: int, abusers: int, flood: int) -> None:
    port = 18000 + os.getpid() % 1000
    with bench_shop("ecomops-bench-abuse-", ("shop-a", "shop-b")) as shop, serving(shop.env, port) as server:
        keys = {
            tenant: base64.b64encode(f"{shop.write_keys[f'shop-{tenant}']}:".encode()).decode()
            for tenant in ("a", "b")
        }
        asyncio.run(phase(port, keys, 3, clients, 0, 0, "warm"))
        rss_start = rss_mb(server.pid)
        alone = asyncio.run(phase(port, keys, seconds, clients, 0, 0, "alone"))
        rss_alone = rss_mb(server.pid)
        abused = asyncio.run(phase(port, keys, seconds, clients, abusers, 0, "abused"))
        rss_abused = rss_mb(server.pid)
        flooded = asyncio.run(phase(port, keys, seconds / 2, 0, 0, flood, "flood"))
        rss_flood = rss_mb(server.pid)
        time.sleep(5)
        rss_after = rss_mb(server.pid)
        for label, r in (("B alone", alone), ("B + abuser A", abused), (f"flood {flood} conns", flooded)):
            rate = r["f_rate"] if label.startswith("flood") else r["b_rate"]
            print(
                f"{label:<18} {rate:>10,.0f} events/s  /healthz p50 {r['p50']:6.1f} ms  "
                f"p99 {r['p99']:6.1f} ms  max {r['max']:6.1f} ms ({r['probes']} probes)  "
                f"B {r['b_status']}  A {r['a_status']}  flood {r['f_status']}"
            )
        ratio = float(abused["b_rate"]) / float(alone["b_rate"])  # type: ignore[arg-type]
        print(
            f"B under abuse / B alone: {ratio:.2f} (target >= 0.80); /healthz p99 under abuse "
            f"{abused['p99']:.1f} ms (target < 100 ms)"
        )
        print(
            f"server RSS: {rss_start:,.0f} MB after warm-up, {rss_alone:,.0f} after B alone, "
            f"{rss_abused:,.0f} after the abuse, {rss_flood:,.0f} at the end of the flood, "
            f"{rss_after:,.0f} 5 s later"
        )


# -- realistic traffic -----------------------------------------------------------------------------


@dataclass
class Realistic:
    """What one realistic run collects while it drives the server."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: int = 0
    #: message id or order id -> (latency group, acknowledged at), until the poller finds it.
    pending: dict[str, tuple[str, float]] = field(default_factory=dict)
    pending_orders: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: latency group -> seconds from acknowledgement to queryable.
    fresh: dict[str, list[float]] = field(default_factory=dict)
    rss_peak: float = 0.0
    sent: int = 0
    done: bool = False


async def paced_client(
    port: int, auth: str, queue: asyncio.Queue[Sample], out: Realistic, pace: list[float], sample_every: int
) -> None:
    """Post bodies from the queue over one keep-alive connection, at the shared pace if one is set."""
    conn = Conn(port, "127.0.0.1")
    while True:
        try:
            sample = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        if pace[1] > 0:  # pace = [next slot time, seconds per body]
            slot = pace[0]
            pace[0] = slot + pace[1]
            delay = slot - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        while True:
            start = time.perf_counter()
            status, headers = await conn.request("POST", "/v1/batch", sample.body, auth)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            if status == 200:
                break
            if status not in (0, 429, 503):  # 0: the server closed the connection; retried like an SDK
                raise RuntimeError(f"/v1/batch answered {status}: {headers.get('body', '')[:200]}")
            await asyncio.sleep(float(headers.get("retry-after", "1")) if status == 429 else 0.05)
        acked = time.perf_counter()
        out.latencies.append(acked - start)
        out.accepted += json.loads(headers["body"])["accepted"]
        out.sent += 1
        if out.sent % sample_every == 0:
            for group, mid in sample.message_ids.items():
                out.pending[mid] = (group, acked)
            for oid in sample.order_ids:
                out.pending_orders[oid] = ("order", acked)
    conn.close()


async def sql(client: httpx.AsyncClient, tenant: str, statement: str) -> list[list[object]]:
    r = await client.post(f"/api/v1/t/{tenant}/query", json={"sql": statement, "limit": 10_000})
    r.raise_for_status()
    rows: list[list[object]] = r.json()["rows"]
    return rows


async def poll_fresh(port: int, api_key: str, out: Realistic) -> None:
    """Every 50 ms, look the pending sample ids up in the warehouse and time the ones that arrived."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        while not (out.done and not out.pending and not out.pending_orders):
            for pending, table, column in (
                (out.pending, "events", "message_id"),
                (out.pending_orders, "orders", "order_id"),
            ):
                ids = list(pending)[:400]
                if not ids:
                    continue
                listed = ", ".join(f"'{i}'" for i in ids)  # generated ids: [a-z0-9-] only
                rows = await sql(
                    client, "bench", f"SELECT {column} FROM {table} WHERE {column} IN ({listed})"
                )
                now = time.perf_counter()
                for (found,) in rows:
                    group, acked = pending.pop(str(found))
                    out.fresh.setdefault(group, []).append(now - acked)
            await asyncio.sleep(0.05)


async def watch_rss(pid: int, out: Realistic) -> None:
    while not out.done:
        out.rss_peak = max(out.rss_peak, rss_mb(pid))
        await asyncio.sleep(0.2)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)] if ordered else math.nan


def disk_bytes(data: Path, folders: tuple[str, ...] = ("warehouse", "wal")) -> int:
    """Bytes of the warehouse files (DuckDB file + its WAL) and the ingest WAL segments."""
    return sum(p.stat().st_size for d in folders for p in (data / d).rglob("*") if p.is_file())


async def realistic_drive(
    port: int, key: str, api_key: str, bodies: list[Sample], clients: int, rate: float, pid: int, run: str
) -> dict[str, object]:
    queue: asyncio.Queue[Sample] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    auth = base64.b64encode(f"{key}:".encode()).decode()
    out = Realistic()
    expected = sum(b.events for b in bodies)
    pace = [time.perf_counter(), (bodies[0].events / rate) if rate else 0.0]
    poller = asyncio.create_task(poll_fresh(port, api_key, out))
    watcher = asyncio.create_task(watch_rss(pid, out))
    start = time.perf_counter()
    await asyncio.gather(*(paced_client(port, auth, queue, out, pace, 4) for _ in range(clients)))
    acked_all = time.perf_counter() - start
    headers = {"Authorization": f"Bearer {api_key}"}
    count_sql = f"SELECT count(*), count(DISTINCT message_id) FROM events WHERE message_id LIKE '{run}-%'"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        while True:
            ((total, distinct),) = await sql(client, "bench", count_sql)
            if int(total) >= expected or time.perf_counter() - start > 900:  # type: ignore[call-overload]
                break
            await asyncio.sleep(0.05)
        loaded_all = time.perf_counter() - start
        out.done = True
        await poller
        await watcher
        ((orders,),) = await sql(
            client, "bench", f"SELECT count(*) FROM orders WHERE order_id LIKE '{run}-o%'"
        )
    return {
        "out": out,
        "expected": expected,
        "acked_all": acked_all,
        "loaded_all": loaded_all,
        "total": int(total),  # type: ignore[call-overload]
        "distinct": int(distinct),  # type: ignore[call-overload]
        "orders": int(orders),  # type: ignore[call-overload]
        "want_orders": sum(len(b.order_ids) for b in bodies),
    }


def run_floor(bodies: list[Sample], clients: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="ecomops-bench-floor-"))
    port = 19000 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "_floor.py"), str(port), str(folder / "events.ndjson")]
    )
    try:
        wait_ready(port)
        elapsed, _, accepted = asyncio.run(drive(port, "floor", [b.body for b in bodies], clients))
        return accepted / elapsed
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(folder, ignore_errors=True)


def run_realistic(n_batches: int, clients_list: list[int], rate: float) -> None:
    print(f"machine load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    for clients in clients_list:
        run = f"r{clients}x{int(rate)}"
        bodies = batches(n_batches, run)
        events = sum(b.events for b in bodies)
        port = 18000 + os.getpid() % 1000
        with bench_shop("ecomops-bench-real-", ECOMOPS_INGEST_FSYNC="true") as shop:
            key = shop.write_keys["bench"]
            made = cli_json(shop.env, "apikey", "create", "--tenant", "bench", "--role", "admin")
            api_key = str(made["key"])
            with serving(shop.env, port, stop_seconds=120) as server:
                r = asyncio.run(realistic_drive(port, key, api_key, bodies, clients, rate, server.pid, run))
                on_disk = disk_bytes(shop.data)
                in_warehouse = disk_bytes(shop.data, ("warehouse",))
                time.sleep(5)
                rss_after = rss_mb(server.pid)
            stopped_disk = disk_bytes(shop.data)
        floor = run_floor(bodies, clients)
        res: Realistic = r["out"]  # type: ignore[assignment]
        acked_rate = events / float(r["acked_all"])  # type: ignore[arg-type]
        loaded_rate = events / float(r["loaded_all"])  # type: ignore[arg-type]
        refused = res.statuses.get(429, 0)
        verdict = "sustained" if not refused else f"NOT sustained ({refused} answers 429)"
        print(
            f"realistic {clients:>2} clients{f' at {rate:,.0f}/s' if rate else ''}: {events:,} events, "
            f"{acked_rate:,.0f} events/s acknowledged, {loaded_rate:,.0f} events/s loaded ({verdict}); "
            f"ack p50 {pct(res.latencies, 0.5) * 1000:.1f} ms p99 {pct(res.latencies, 0.99) * 1000:.1f} ms; "
            f"statuses {res.statuses}; load {os.getloadavg()[0]:.2f}"
        )
        fresh = "  ".join(
            f"{g} p50 {pct(v, 0.5):.2f} s p99 {pct(v, 0.99):.2f} s (n={len(v)})"
            for g, v in sorted(res.fresh.items())
        )
        print(f"  ack-to-queryable: {fresh}")
        print(
            f"  server RSS peak {res.rss_peak:,.0f} MB, {rss_after:,.0f} MB 5 s after loading; disk "
            f"{on_disk / events:,.0f} bytes/event when loaded ({in_warehouse / events:,.0f} warehouse, the "
            f"rest ingest WAL segments), {stopped_disk / events:,.0f} after stop"
        )
        print(
            f"  floor (Starlette + JSON parse + append + fsync per request): {floor:,.0f} events/s; "
            f"ecomops loaded/floor {loaded_rate / floor:.2f}, acknowledged/floor {acked_rate / floor:.2f}"
        )
        ok = r["total"] == r["distinct"] == r["expected"] and r["orders"] == r["want_orders"]
        print(
            f"  verify: {r['total']:,} rows, {r['distinct']:,} distinct ids, {r['expected']:,} acknowledged, "
            f"orders {r['orders']}/{r['want_orders']}: {'exactly once' if ok else 'MISMATCH'}"
        )
        if not ok:
            raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--abuse", action="store_true", help="the abuse run (see the module docstring)")
    parser.add_argument("--realistic", action="store_true", help="storefront traffic (module docstring)")
    parser.add_argument("--clients-list", default="8,32,64", help="realistic run: client counts")
    parser.add_argument("--rate", type=float, default=0, help="realistic run: events/s (0 = full speed)")
    parser.add_argument("--seconds", type=float, default=20, help="abuse run: length of each phase")
    parser.add_argument("--abusers", type=int, default=8, help="abuse run: the abuser's connections")
    parser.add_argument("--flood", type=int, default=400, help="abuse run: connections of the flood")
    args = parser.parse_args()
    if args.realistic:
        run_realistic(args.batches, [int(c) for c in args.clients_list.split(",")], args.rate)
        return
    if args.abuse:
        run_abuse(args.seconds, 16 if args.clients == 32 else args.clients, args.abusers, args.flood)
        return
    durable = run_case("durable (fsync)", True, args.batches, args.clients)
    baseline = run_case("baseline (no fsync)", False, args.batches, args.clients)
    print(
        f"ratio durable/no-fsync: {durable / baseline:.2f}; target 100,000 events/s durable: "
        f"{durable / 100_000:.2f} of target"
    )


if __name__ == "__main__":
    main()
