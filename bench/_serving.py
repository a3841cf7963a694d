"""A real ``ecomops serve`` for the benchmarks that measure over HTTP (not a benchmark itself: ``make bench``
skips files starting with ``_``)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

ECOMOPS = [sys.executable, "-m", "ecomops.cli"]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start ``ecomops serve`` on ``port`` with ``env`` and wait (30 s at most) until it answers /readyz."""
    server = subprocess.Popen(
        [*ECOMOPS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    return server
