"""Cluster-mode ingest throughput: 2 ``ecomops serve`` ingest processes and 2 ``ecomops loader`` processes on
a private Redis configured as docs/cluster.md asks (AOF, ``appendfsync always``), beside the embedded mode
(one durable ``ecomops serve``) with the same traffic in the same run.

Traffic: concurrent keep-alive clients posting /v1/batch of 100 small track events (~300 bytes, the shape
bench/ingest.py's small-event case uses) to two tenants on different shards, spread over the ingest
processes. Prints for each mode the acknowledged events/s and p50/p99 acknowledgement, and for cluster
mode the time until the loaders had loaded everything (loaded events/s, from the first request to the
last load); then the cluster/embedded ratio and the machine's load average (others share this machine).
Usage: python bench/cluster.py [--batches 2000] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

from _serving import post_batch, start_server
from _traffic import make_bodies
from ecomops.ingest.redis_log import RedisStreamLog
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import upgrade
from ecomops.platform.warehouse.ownership import shard_of
from ecomops.tenancy import service as tenancy

ECOMOPS = [sys.executable, "-m", "ecomops.cli"]
MASTER_KEY = "bench-cluster-master-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(port: int, queue: asyncio.Queue[tuple[str, bytes]], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                auth, body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            await post_batch(reader, writer, auth, body)
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def drive(ports: list[int], work: list[tuple[str, bytes]], clients: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(ports[c % len(ports)], queue, latencies) for c in range(clients)))
    return time.perf_counter() - start, latencies


def report(label: str, events: int, elapsed: float, latencies: list[float], clients: int) -> float:
    lat = sorted(latencies)
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    rate = events / elapsed
    print(
        f"{label:<26} {rate:>10,.0f} events/s acknowledged  p50 {statistics.median(lat) * 1000:6.1f} ms  "
        f"p99 {p99:6.1f} ms  ({events:,} events, {clients} clients)"
    )
    return rate


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU time of a child so far (``/proc``): barely moved by the machine's other load."""
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_line(label: str, spent: dict[str, float], events: int) -> None:
    per_event = sum(spent.values()) / events * 1e6
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in spent.items())
    print(f"{label:<26} CPU {parts}: {per_event:,.0f} µs per event in all")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([*ECOMOPS, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_loaded(port: int) -> None:
    """Wait for the embedded server's WAL backlog (``/metrics``) to empty: its CPU then includes loading."""
    while True:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        backlog = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("ecomops_ingest_wal_backlog_bytes{")
        ]
        if not any(backlog):
            return
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ecomops-bench-cluster-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        store_dir = root / "store"
        base = {**os.environ, "ECOMOPS_MASTER_KEY": MASTER_KEY, "ECOMOPS_LOG_LEVEL": "warning"}
        base.pop("ECOMOPS_DATABASE_URL", None)
        store_url = f"sqlite:///{store_dir / 'ecomops.sqlite3'}"
        store_dir.mkdir()
        os.environ.update({"ECOMOPS_DATA_DIR": str(store_dir), "ECOMOPS_MASTER_KEY": MASTER_KEY})
        engine = make_engine(store_url)
        upgrade(engine)
        keys: list[str] = []
        shards: set[int] = set()
        for n in range(64):
            tenant = tenancy.create_tenant(engine, f"bench{n}", f"Bench {n}", "Asia/Shanghai", "CNY")
            if shard_of(tenant.id, 2) in shards:
                continue
            shards.add(shard_of(tenant.id, 2))
            keys.append(tenancy.create_source(engine, tenant.slug, "site", "web")[1])
            if len(shards) == 2:
                break
        engine.dispose()
        auths = [base64.b64encode(f"{k}:".encode()).decode() for k in keys]

        def work(run: str) -> list[tuple[str, bytes]]:
            bodies = make_bodies(args.batches, run)
            return [(auths[i % 2], body) for i, body in enumerate(bodies)]

        events = args.batches * 100

        # Embedded mode: one durable server owning both tenants.
        port = free_port()
        server = start_server({**base, "ECOMOPS_DATA_DIR": str(store_dir)}, port)
        procs.append(server)
        asyncio.run(drive([port], work("embedded-warm")[:50], args.clients))
        serve_before = cpu_seconds(server)
        elapsed, latencies = asyncio.run(drive([port], work("embedded"), args.clients))
        embedded = report("embedded (1 process)", events, elapsed, latencies, args.clients)
        wait_loaded(port)
        cpu_line("embedded (1 process)", {"serve": cpu_seconds(server) - serve_before}, events)
        server.terminate()
        server.wait(60)

        # Cluster mode: a private Redis with the documented durability, 2 ingest + 2 loader processes.
        port = free_port()
        redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(redis_proc)
        log_url = f"redis://127.0.0.1:{port}/0"
        for _ in range(300):
            try:
                redis.Redis.from_url(log_url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        cluster = {**base, "ECOMOPS_DATABASE_URL": store_url, "ECOMOPS_INGEST_LOG": log_url}
        ports = []
        roles: dict[str, subprocess.Popen[bytes]] = {}
        for name in ("ingest-a", "ingest-b"):
            p = free_port()
            env = {**cluster, "ECOMOPS_DATA_DIR": str(root / name)}
            roles[name] = start_server(env, p, log=root / f"{name}.log")
            procs.append(roles[name])
            ports.append(p)
        for i in (0, 1):
            env = {**cluster, "ECOMOPS_DATA_DIR": str(root / f"loader-{i}")}
            roles[f"loader-{i}"] = spawn(
                ["loader", "--shard", str(i), "--shards", "2"], env, root / f"loader-{i}.log"
            )
        roles["redis"] = redis_proc
        procs.extend(roles[f"loader-{i}"] for i in (0, 1))
        asyncio.run(drive(ports, work("cluster-warm")[:50], args.clients))
        log = RedisStreamLog.open(log_url, "ecomops:", require_fsync=True)
        tenant_ids = log.tenants()

        def backlog() -> int:
            return sum(log.backlog(t).entries for t in tenant_ids)

        while backlog():
            time.sleep(0.05)
        before = {name: cpu_seconds(p) for name, p in roles.items()}
        started = time.perf_counter()
        elapsed, latencies = asyncio.run(drive(ports, work("cluster"), args.clients))
        rate = report("cluster (2 ingest + 2 ld)", events, elapsed, latencies, args.clients)
        while backlog():
            time.sleep(0.01)
        loaded = time.perf_counter() - started
        spent = {name: cpu_seconds(p) - before[name] for name, p in roles.items()}
        log.close()
        print(
            f"{'cluster, loaded':<26} {events / loaded:>10,.0f} events/s from the first request to the last "
            f"load ({loaded:.2f} s; acknowledged in {elapsed:.2f} s)"
        )
        cpu_line("cluster", spent, events)
        print(f"cluster / embedded acknowledged: {rate / embedded:.2f}")
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
