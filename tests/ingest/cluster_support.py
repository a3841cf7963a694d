"""Real processes for the cluster-mode tests: a Redis configured as docs/cluster.md asks, ``ecomops serve``
ingest processes and ``ecomops loader`` processes sharing one operational store."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import free_port
from tests.timing import DEADLINE

MASTER_KEY = "cluster-test-master-key-0123456789abcdef"


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_redis(tmp: Path, appendfsync: str = "always") -> tuple[Proc, str]:
    """A private redis-server with its AOF in ``tmp`` (the shared one on 6379 keeps its own settings)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    log_path = tmp / "redis.log"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--save", "",
         "--appendonly", "yes", "--appendfsync", appendfsync, "--logfile", str(log_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server did not start: {log_path.read_text(errors='replace')}"
                ) from None
            time.sleep(0.02)
    client.close()
    return Proc(proc, log_path, url), url


def cluster_env(data_dir: Path, store_url: str, log_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ECOMOPS_DATA_DIR": str(data_dir),
        "ECOMOPS_DATABASE_URL": store_url,
        "ECOMOPS_MASTER_KEY": MASTER_KEY,
        "ECOMOPS_INGEST_LOG": log_url,
        "ECOMOPS_INGEST_LOG_PREFIX": prefix,
        "ECOMOPS_LOG_FORMAT": "text",
        **extra,
    }
    env.pop("FORWARDED_ALLOW_IPS", None)
    return env


def start_ingest(data_dir: Path, env: dict[str, str]) -> Proc:
    """``ecomops serve`` in cluster mode, ready to take events."""
    port = free_port()
    return _spawn(
        data_dir, env, ["serve", "--port", str(port)], f"serve-{port}.log", f"http://127.0.0.1:{port}"
    )


def start_loader(data_dir: Path, env: dict[str, str], args: Sequence[str]) -> Proc:
    return _spawn(data_dir, env, ["loader", *args], f"loader-{'-'.join(args)}-{time.monotonic_ns()}.log", "")


def _spawn(data_dir: Path, env: dict[str, str], args: list[str], log_name: str, url: str) -> Proc:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / log_name
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecomops.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    started = Proc(proc, log_path, url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ecomops {args[0]} exited: {started.log()}")
        if not url:
            if b"ecomops loader:" in log_path.read_bytes():
                return started
        else:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    return started
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"ecomops {args[0]} did not start in 60 s: {started.log()}")
