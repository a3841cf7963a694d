"""Ingest throughput: a real ``ecomops serve`` process, concurrent keep-alive clients posting /v1/batch
of 100 events. Prints events/s and p50/p99 acknowledgement latency for the durable path (fsync per
group commit) and, as the in-run baseline, the same server with fsync off; the ratio is the cost
of durability. Usage: python bench/ingest.py [--batches 3000] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ECOMOPS = [sys.executable, "-m", "ecomops.cli"]


def make_bodies(n_batches: int, run: str) -> list[bytes]:
    bodies = []
    for b in range(n_batches):
        batch = [
            {
                "type": "track",
                "event": "Product Viewed" if i % 10 else "Product Added",
                "userId": f"user-{(b * 100 + i) % 50_000}",
                "messageId": f"{run}-{b}-{i}",
                "timestamp": "2026-11-11T12:00:00Z",
                "context": {
                    "campaign": {"source": "douyin", "medium": "live", "name": "d11"},
                    "device": {"type": "mobile"},
                    "page": {"url": "https://shop.example/p/123", "path": "/p/123"},
                },
                "properties": {"product_id": f"p{i}", "price": 59.9, "currency": "CNY", "x": 100, "y": 200},
            }
            for i in range(100)
        ]
        bodies.append(json.dumps({"batch": batch, "sentAt": "2026-11-11T12:00:01Z"}).encode())
    return bodies


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
            head = (
                f"POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if b" 200 " not in status_line:
                raise RuntimeError(f"{status_line!r} {payload[:200]!r}")
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
    data = Path(tempfile.mkdtemp(prefix="ecomops-bench-"))
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data), "ECOMOPS_INGEST_FSYNC": "true" if fsync else "false"}
    env.pop("ECOMOPS_DATABASE_URL", None)
    subprocess.run([*ECOMOPS, "tenant", "create", "bench"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [*ECOMOPS, "source", "create", "site", "--tenant", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key = json.loads(out)["write_key"]
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [*ECOMOPS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
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
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    durable = run_case("durable (fsync)", True, args.batches, args.clients)
    baseline = run_case("baseline (no fsync)", False, args.batches, args.clients)
    print(
        f"ratio durable/no-fsync: {durable / baseline:.2f}; target 100,000 events/s durable: "
        f"{durable / 100_000:.2f} of target"
    )


if __name__ == "__main__":
    main()
