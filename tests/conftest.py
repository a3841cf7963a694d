"""Shared fixtures: an isolated data dir per test, the operational store, tenants, real servers
(a subprocess for crash tests, an in-process one whose warehouse tests can look into)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from ecomops.app import create_app
from ecomops.kernel.clock import utcnow
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import upgrade
from ecomops.platform.web.state import AppState
from ecomops.security import mfa
from ecomops.tenancy import service as tenancy
from tests.timing import DEADLINE, ManualDateTime, wait_until

# Like every ``ecomops`` command (its root callback): what tests write in process is private too, so
# ``doctor``'s data-dir permission check sees what a real install has.
os.umask(0o077)

REPO = Path(__file__).resolve().parents[1]


def default_data_dirs() -> list[Path]:
    """Where an ``ecomops`` run outside the tests keeps its data: ``./.ecomops`` (the default, relative to
    where it runs, normally the checkout) and ``ECOMOPS_DATA_DIR`` as given to the test run (``make``
    exports the checkout's ``.ecomops``). ``make demo`` reuses what it finds there, keys included."""
    dirs = {REPO / ".ecomops", Path.cwd() / ".ecomops"}
    if inherited := os.environ.get("ECOMOPS_DATA_DIR"):
        dirs.add(Path(inherited).expanduser())
    return sorted(d.resolve() for d in dirs)


def files_under(roots: Sequence[Path]) -> dict[Path, tuple[int, int]]:
    """Every file below ``roots`` with its size and modification time: enough to see one added or changed."""
    found = {}
    for root in roots:
        for path in root.rglob("*") if root.is_dir() else ():
            if path.is_file():
                stat = path.stat()
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep the whole run out of the user's data dir, and fail the run if anything still wrote there.

    A test that forgets the ``data_dir`` fixture (or code that reads settings before a test sets them)
    would otherwise create keys and stores in the checkout's ``.ecomops``, which ``make demo`` then
    reuses: an audit key made by a test signing a demo shop's log. Every test therefore starts with
    ``ECOMOPS_DATA_DIR`` pointing at a temporary folder (and no ``ECOMOPS_DATABASE_URL``: a developer's
    real store is never a test's), and the default data dirs must hold the same files at the end."""
    watched = default_data_dirs()
    before = files_under(watched)
    path = tmp_path_factory.mktemp("session-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMOPS_DATA_DIR", str(path))
        mp.delenv("ECOMOPS_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        yield path
    get_settings.cache_clear()
    after = files_under(watched)
    touched = sorted(str(p) for p, stat in after.items() if before.get(p) != stat)
    if touched:
        pytest.fail(
            "tests wrote into a default data dir (use the data_dir fixture, or pass ECOMOPS_DATA_DIR to "
            "subprocesses; or a server using it, such as `make demo`, ran during the tests): "
            f"{', '.join(touched)}",
            pytrace=False,
        )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point ECOMOPS_DATA_DIR at a fresh folder for this test (settings are cached, so reset them)."""
    path = tmp_path / "data"
    monkeypatch.setenv("ECOMOPS_DATA_DIR", str(path))
    monkeypatch.delenv("ECOMOPS_DATABASE_URL", raising=False)
    # Servers started by tests do not warm shops in the background (tests/analytics/test_warmup.py does).
    monkeypatch.setenv("ECOMOPS_WARM_UP_SHOPS", "0")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return get_settings()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def tenant(engine: Engine) -> TenantInfo:
    return tenancy.create_tenant(engine, "acme", "Acme Shop", "Asia/Shanghai", "CNY")


@pytest.fixture
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> ManualDateTime:
    """The time ``security.mfa`` checks TOTP codes at (in-process servers too), moved only by the test:
    which 30-second step a code belongs to no longer depends on when the request arrives."""
    clock = ManualDateTime(utcnow())
    monkeypatch.setattr(mfa, "utcnow", clock)
    return clock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    token: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    #: The server's stderr: its log lines (JSON unless the test chose otherwise).
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_server(
    data_dir: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> LiveServer:
    """Run ``ecomops serve [args]`` as a real process and wait until it answers (60 s bound a failure).

    Its stderr (the server log, an access line per request) goes to a file beside the data dir: a pipe
    nobody reads would fill up and block the server mid-request."""
    port = port or free_port()
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data_dir), **(extra_env or {})}
    env.pop("ECOMOPS_DATABASE_URL", None)
    env.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's default for --forwarded-allow-ips
    log_path = data_dir.parent / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecomops.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                token = json.loads((data_dir / "server.json").read_text())["token"]
                return LiveServer(url, token, proc, data_dir, port, log_path)
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready in 60 s")


@pytest.fixture
def live_server(data_dir: Path, tenant: TenantInfo) -> Iterator[LiveServer]:
    server = start_server(data_dir)
    yield server
    server.stop()


@dataclass
class InProcServer:
    url: str
    app: FastAPI
    tenant: TenantInfo
    write_key: str

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.ecomops
        return state

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Load everything acknowledged so far, then read the tenant warehouse."""
        self.state.services["ingest"].flush()
        return self.state.warehouses.get(self.tenant.id).query(sql, params)

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(key or self.write_key, ""), timeout=30)


@pytest.fixture
def server(settings: Settings, engine: Engine, tenant: TenantInfo) -> Iterator[InProcServer]:
    _, write_key = tenancy.create_source(engine, tenant.slug, "site", "web")
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started or not thread.is_alive(), "the in-process server to start")
    if not srv.started:
        raise RuntimeError("in-process server did not start")
    yield InProcServer(f"http://127.0.0.1:{port}", app, tenant, write_key)
    srv.should_exit = True
    thread.join(DEADLINE)
