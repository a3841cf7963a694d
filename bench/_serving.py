"""A real ``ecomops serve`` for the benchmarks that measure over HTTP, and the throwaway shop it serves (not a
benchmark itself: ``make bench`` skips files starting with ``_``)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ECOMOPS = [sys.executable, "-m", "ecomops.cli"]
#: Seconds a server gets to answer /readyz before the benchmark stops (a loaded machine starts slowly).
READY_SECONDS = 60.0


def wait_ready(port: int, seconds: float = READY_SECONDS) -> None:
    """Return once ``127.0.0.1:port`` answers /readyz with 200; raise after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not become ready in {seconds:g} s")


def start_server(env: dict[str, str], port: int, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``ecomops serve`` on ``port`` with ``env`` (output to ``log``, else dropped) once it is ready."""
    with open(log, "ab") if log is not None else open(os.devnull, "wb") as out:
        server = subprocess.Popen(
            [*ECOMOPS, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(port)
    except RuntimeError:
        server.kill()
        raise
    return server


@contextmanager
def serving(env: dict[str, str], port: int, stop_seconds: float = 60.0) -> Iterator[subprocess.Popen[bytes]]:
    """A ready server for the ``with`` block, stopped (SIGTERM, then waited for) when it ends."""
    server = start_server(env, port)
    try:
        yield server
    finally:
        server.terminate()
        server.wait(stop_seconds)


def cli_json(env: dict[str, str], *args: str) -> Any:
    """Run ``ecomops <args> --json`` and return what it printed."""
    out = subprocess.run([*ECOMOPS, *args, "--json"], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@dataclass(frozen=True)
class BenchShop:
    data: Path
    env: dict[str, str]
    write_keys: dict[str, str]  # tenant slug -> the write key of its source "site"


@contextmanager
def bench_shop(prefix: str, tenants: Sequence[str] = ("bench",), **settings: str) -> Iterator[BenchShop]:
    """A fresh data dir (a SQLite store, whatever store the caller's environment names) with ``tenants``,
    each with a web source, and the ``ECOMOPS_*`` ``settings``; deleted when the ``with`` block ends."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data), **settings}
    env.pop("ECOMOPS_DATABASE_URL", None)
    try:
        keys = {}
        for tenant in tenants:
            subprocess.run([*ECOMOPS, "tenant", "create", tenant], env=env, check=True, capture_output=True)
            keys[tenant] = str(cli_json(env, "source", "create", "site", "--tenant", tenant)["write_key"])
        yield BenchShop(data, env, keys)
    finally:
        shutil.rmtree(data, ignore_errors=True)


async def post_batch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, auth: str, body: bytes
) -> bytes:
    """POST one /v1/batch body on a kept-alive HTTP/1.1 connection (Basic ``auth``, already base64) and
    return the answer's body; raise unless it is a 200. Raw HTTP so the client costs next to nothing."""
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
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
    if b" 200 " not in status_line:
        raise RuntimeError(f"{status_line!r} {payload[:200]!r}")
    return payload
