"""An in-process server on a real port (so tests can also look inside its warehouse) plus a write key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from ecomops.app import create_app
from ecomops.settings import Settings
from ecomops.tenancy import service as tenancy
from ecomops.web.state import AppState
from tests.conftest import free_port


@dataclass
class InProcServer:
    url: str
    app: FastAPI
    tenant: tenancy.TenantInfo
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
def server(settings: Settings, engine: Engine, tenant: tenancy.TenantInfo) -> Iterator[InProcServer]:
    _, write_key = tenancy.create_source(engine, tenant.slug, "site", "web")
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("in-process server did not start")
        time.sleep(0.02)
    yield InProcServer(f"http://127.0.0.1:{port}", app, tenant, write_key)
    srv.should_exit = True
    thread.join(30)
