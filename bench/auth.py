"""Authentication cost: what an API key adds to a request, and what one password verification costs.

1. A real ``ecomops serve`` process; one keep-alive client alternates the unauthenticated
   ``GET /healthz`` (the in-run baseline: same server, client and middlewares) with API-key
   authenticated ``GET /api/v1/t/{tenant}/metrics/catalogue`` (the cheapest tenant route: a static
   definition list, no store or warehouse work), ``GET …/imports`` (one small store query after
   authentication) and a request with an unknown key (401: the store lookup that a cache miss
   costs). Prints p50 and mean of each and the milliseconds added over /healthz. Target: ≤ 0.3 ms
   added by authentication. Then the ``tenant_context`` dependency alone, in process, with the
   API-key cache and without it.
2. argon2id: time of one ``verify`` with the parameters in ``ecomops.security.accounts`` and with
   the argon2-cffi defaults (baseline); target 50–150 ms per verification on this machine.

Usage: python bench/auth.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher
from starlette.requests import Request

from _serving import start_server
from ecomops.app import create_app
from ecomops.platform.settings import Settings
from ecomops.platform.web.deps import tenant_context
from ecomops.security import accounts
from ecomops.tenancy import service as tenancy

ECOMOPS = [sys.executable, "-m", "ecomops.cli"]


def _cli(env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run([*ECOMOPS, *args, "--json"], env=env, check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _timed(conn: http.client.HTTPConnection, path: str, headers: dict[str, str], status: int) -> float:
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != status:
        raise RuntimeError(f"GET {path}: expected {status}, got {response.status} {body[:200]!r}")
    return elapsed


def _summary(label: str, samples: list[float], base: list[float] | None) -> str:
    p50 = statistics.median(samples) * 1000
    mean = statistics.fmean(samples) * 1000
    line = f"{label:<34} p50 {p50:6.3f} ms  mean {mean:6.3f} ms"
    if base is not None:
        line += (
            f"  added: p50 {p50 - statistics.median(base) * 1000:+6.3f} ms, "
            f"mean {mean - statistics.fmean(base) * 1000:+6.3f} ms"
        )
    return line


def api_key_overhead(requests: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="ecomops-bench-auth-"))
    env = {
        **os.environ,
        "ECOMOPS_DATA_DIR": str(data),
        # Limits stay on (their cost is part of every request) but high enough for a benchmark.
        "ECOMOPS_RATELIMIT_API_KEY_RATE": "1000000",
        "ECOMOPS_RATELIMIT_API_KEY_BURST": "1000000",
        "ECOMOPS_RATELIMIT_IP_RATE": "1000000",
        "ECOMOPS_RATELIMIT_IP_BURST": "1000000",
    }
    env.pop("ECOMOPS_DATABASE_URL", None)
    _cli(env, "tenant", "create", "bench")
    key = str(_cli(env, "apikey", "create", "--tenant", "bench", "--role", "admin")["key"])
    port = 18500 + os.getpid() % 1000
    server = start_server(env, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        authed = {"Authorization": f"Bearer {key}"}
        unknown = {"Authorization": "Bearer eco_live_" + "x" * 43}
        cheap, listing = "/api/v1/t/bench/metrics/catalogue", "/api/v1/t/bench/imports"
        for _ in range(300):  # warm up: imports, caches, connection pools
            _timed(conn, "/healthz", {}, 200)
            _timed(conn, cheap, authed, 200)
            _timed(conn, listing, authed, 200)
        samples: dict[str, list[float]] = {"health": [], "cheap": [], "listing": [], "rejected": []}
        for _ in range(requests):
            samples["health"].append(_timed(conn, "/healthz", {}, 200))
            samples["cheap"].append(_timed(conn, cheap, authed, 200))
            samples["listing"].append(_timed(conn, listing, authed, 200))
            samples["rejected"].append(_timed(conn, cheap, unknown, 401))
        conn.close()
        health = samples["health"]
        print(f"API key overhead ({requests} requests each, one keep-alive client, interleaved)")
        print(_summary("GET /healthz (no auth, baseline)", health, None))
        print(_summary("GET …/metrics/catalogue (API key)", samples["cheap"], health))
        print(_summary("GET …/imports (API key, 1 query)", samples["listing"], health))
        print(_summary("unknown key (401, store lookup)", samples["rejected"], health))
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(data, ignore_errors=True)


def dependency_cost(rounds: int) -> None:
    """In process: the ``tenant_context`` dependency alone (what authentication adds to any route)."""
    data = Path(tempfile.mkdtemp(prefix="ecomops-bench-auth-dep-"))
    try:
        settings = Settings(data_dir=data)
        app = create_app(settings)
        state = app.state.ecomops
        tenancy.create_tenant(state.engine, "bench")
        _, key = tenancy.create_api_key(state.engine, "bench", "admin")
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/t/bench/imports",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {key}".encode())],
            "client": ("127.0.0.1", 40000),
            "app": app,
        }

        async def per_call(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                await tenant_context(Request(dict(scope)), "bench", state)
            return (time.perf_counter() - start) / n * 1e6

        print(f"tenant_context dependency in process ({rounds} calls)")
        asyncio.run(per_call(200))
        hit = asyncio.run(per_call(rounds))
        print(f"{'API key, cache hit':<34} {hit:8.1f} µs per request")
        state.settings = settings.model_copy(update={"api_key_cache_seconds": 0.0})
        state.services.pop("api_keys", None)
        miss = asyncio.run(per_call(rounds))
        print(f"{'API key, no cache (store lookup)':<34} {miss:8.1f} µs per request  ({miss / hit:.0f}x)")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _verify_ms(hasher: PasswordHasher, rounds: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds of one verification (CPU time is what load cannot inflate;
    with several lanes it adds up the threads, so it can exceed wall time)."""
    password = "correct horse battery staple 42"
    encoded = hasher.hash(password)
    hasher.verify(encoded, password)  # warm
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        hasher.verify(encoded, password)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def argon2_cost(rounds: int) -> None:
    ours = accounts._hasher
    default = PasswordHasher()
    load = os.getloadavg()[0]
    print(f"argon2id verify (median of {rounds}; load average {load:.1f} on {os.cpu_count()} CPUs)")
    for label, hasher in (("ecomops (accounts._hasher)", ours), ("argon2-cffi defaults (baseline)", default)):
        wall, cpu = _verify_ms(hasher, rounds)
        verdict = "ok" if 50 <= wall <= 150 else "OUT OF RANGE"
        print(
            f"{label:<34} t={hasher.time_cost} m={hasher.memory_cost // 1024} MiB p={hasher.parallelism}: "
            f"{wall:6.1f} ms wall, {cpu:6.1f} ms CPU  (target 50-150 ms wall: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--argon2-rounds", type=int, default=15)
    args = parser.parse_args()
    api_key_overhead(args.requests)
    dependency_cost(args.requests)
    argon2_cost(args.argon2_rounds)


if __name__ == "__main__":
    main()
