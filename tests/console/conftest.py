"""Helpers for the console tests: people with roles, signed-in HTTP clients (owners with TOTP), and the
seeded shop the browser tests share (an in-process server and Chromium)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

from ecomops.app import create_app
from ecomops.kernel.clock import utcnow
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import get_settings
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import upgrade
from ecomops.security import accounts, mfa
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, LiveServer, free_port
from tests.timing import ManualDateTime, wait_until

PASSWORD = "correct horse battery staple"
#: Chromium as docs/console.md runs it: headless, no sandbox (containers), nothing fetched on its own.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Console tests sign in several people from one address; the per-IP limit has its own tests."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def add_member(engine: Engine, email: str, role: str, tenant: str = "acme") -> None:
    accounts.create_user(engine, email, PASSWORD)
    accounts.add_member(engine, tenant, email, role)


@contextmanager
def signed_in(
    server: InProcServer | LiveServer, email: str, **headers: str
) -> Iterator[tuple[httpx.Client, str]]:
    """A client with a finished session (TOTP enrolled first for roles that need it) and its CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=30, headers=headers)
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    csrf = body["csrf_token"]
    if body["stage"] == "enroll":
        enrolment = client.post("/auth/mfa/enroll", json={}, headers={"x-csrf-token": csrf}).json()
        totp = pyotp.TOTP(enrolment["secret"])
        confirmed = client.post(
            "/auth/mfa/confirm", json={"code": totp.now()}, headers={"x-csrf-token": csrf}
        )
        assert confirmed.status_code == 200, confirmed.text
        csrf = confirmed.json()["csrf_token"]
    try:
        yield client, csrf
    finally:
        client.close()


@dataclass
class ServedShop:
    url: str
    engine: Engine
    tenant: TenantInfo
    browser: Browser
    #: The server's TOTP clock (``security.mfa`` checks codes against it), moved only by the tests.
    totp_clock: ManualDateTime


@contextmanager
def served_shop(data_dir: Path, params: SeedParams, people: Callable[[Engine], None]) -> Iterator[ServedShop]:
    """The shop "demo" seeded with ``params`` in ``data_dir`` (SQLite), served in process, with Chromium.

    ``people`` adds the accounts, members and other tenants before the server starts; the seed goes in
    through the running server's warehouse, as the demo's does. Everything is stopped afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMOPS_DATA_DIR", str(data_dir))
        mp.delenv("ECOMOPS_DATABASE_URL", raising=False)
        mp.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")
        totp_clock = ManualDateTime(utcnow())
        mp.setattr(mfa, "utcnow", totp_clock)
        get_settings.cache_clear()
        settings = get_settings()
        engine = make_engine(settings.resolved_database_url)
        upgrade(engine)
        tenant = tenancy.create_tenant(engine, "demo", "露米尔旗舰店 Lumière", "Asia/Shanghai", "CNY")
        people(engine)
        app = create_app(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started, "the console server to start")
        warehouse = app.state.ecomops.warehouses.get(tenant.id)
        seed_demo(engine, warehouse, tenant, params, data_dir / "manifest.json")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            try:
                yield ServedShop(f"http://127.0.0.1:{port}", engine, tenant, browser, totp_clock)
            finally:
                browser.close()
                server.should_exit = True
                thread.join(30)
                engine.dispose()
                get_settings.cache_clear()
