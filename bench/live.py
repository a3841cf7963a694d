"""Live screen latency: an order posted to ``/v1/batch`` until the live stream shows it.

A real ``ecomops serve`` process; one SSE client on ``/api/v1/t/{tenant}/live/stream`` and one ingest
client. Each round posts one ``Order Completed`` and times how long until a snapshot on the stream
counts it: HTTP ingest → write-ahead log (fsync) → warehouse load (the ingest flush interval) → the
tenant feed's next tick (its change probe) → SSE. The console's live page adds its own redraw on top.
``--streams`` more screens stay open on the same tenant meanwhile (they share one feed). Baseline: the
same request's acknowledgement (the ingest part alone). Prints p50/p95/max of both, their ratio and how
many rounds stayed under the 2-second target; the tests check only that the order arrives
(tests/live/test_api.py, tests/console/test_live_browser.py), never how fast.

Usage: python bench/live.py [--rounds 30] [--streams 10]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from _serving import cli_json, start_server

TARGET_SECONDS = 2.0


def _snapshots(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The ``snapshot`` events' data of a text/event-stream."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data and event == "snapshot":
                yield json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def _summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"{label:<34} p50 {statistics.median(ordered) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
        f"max {ordered[-1] * 1000:7.1f} ms"
    )


def _order(n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"bench-live-{n}",
        "anonymousId": f"anon-{n}",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {
            "order_id": f"bench-live-{n}",
            "total": "99.00",
            "currency": "CNY",
            "products": [{"product_id": "p-bench", "name": "bench", "price": "99.00", "quantity": 1}],
        },
    }


def _watch(url: str, key: str, orders: queue.Queue[int] | None, stop: threading.Event) -> None:
    """Put each ``today.orders`` count seen on the stream into ``orders`` (None: an idle screen)."""
    try:
        with (
            httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
            client.stream("GET", url, params={"max_seconds": 3600}) as stream,
        ):
            for snap in _snapshots(stream.iter_lines()):
                if orders is not None:
                    orders.put(snap["today"]["orders"])
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the stream is cut when the server stops at the end
            raise


def measure(rounds: int, streams: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="ecomops-bench-live-"))
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data)}
    env.pop("ECOMOPS_DATABASE_URL", None)
    cli_json(env, "tenant", "create", "bench", "--timezone", "Asia/Shanghai", "--currency", "CNY")
    write_key = str(cli_json(env, "source", "create", "site", "--tenant", "bench")["write_key"])
    api_key = str(cli_json(env, "apikey", "create", "--tenant", "bench", "--role", "viewer")["key"])
    port = 18700 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port)
    stop = threading.Event()
    try:
        stream_url = base + "/api/v1/t/bench/live/stream"
        seen: queue.Queue[int] = queue.Queue()
        threads = [threading.Thread(target=_watch, args=(stream_url, api_key, seen, stop), daemon=True)]
        threads += [
            threading.Thread(target=_watch, args=(stream_url, api_key, None, stop), daemon=True)
            for _ in range(streams)
        ]
        for t in threads:
            t.start()
        shown = seen.get(timeout=60)
        latencies: list[float] = []
        acks: list[float] = []
        with httpx.Client(base_url=base, auth=(write_key, ""), timeout=60) as ingest:
            for n in range(rounds):
                sent = time.perf_counter()
                answer = ingest.post("/v1/batch", json={"batch": [_order(n)]})
                if answer.status_code != 200 or answer.json()["accepted"] != 1:
                    raise RuntimeError(f"ingest refused the order: {answer.status_code} {answer.text[:200]}")
                acks.append(time.perf_counter() - sent)
                while shown < n + 1:
                    shown = seen.get(timeout=60)
                latencies.append(time.perf_counter() - sent)
                time.sleep(0.3)  # let the feed settle, so rounds do not ride on each other's ticks
        within = sum(1 for x in latencies if x < TARGET_SECONDS)
        print(f"{rounds} orders, {streams + 1} open screens")
        print(_summary("baseline: /v1/batch acknowledged", acks))
        print(_summary("/v1/batch → live stream", latencies))
        print(
            f"ratio p50 stream/ack: {statistics.median(latencies) / statistics.median(acks):.1f}; "
            f"under the {TARGET_SECONDS:g} s target: {within}/{rounds}"
        )
    finally:
        stop.set()
        server.terminate()
        server.wait(60)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--streams", type=int, default=10)
    args = parser.parse_args()
    measure(args.rounds, args.streams)


if __name__ == "__main__":
    main()
