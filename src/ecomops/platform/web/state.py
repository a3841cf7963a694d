"""Everything a request may need, built once per process and hung on ``app.state.ecomops``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fastapi import Request
from sqlalchemy import Engine

from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.handle import Warehouse


class Warehouses(Protocol):
    """The tenant warehouses this process owns (``connection.WarehouseRegistry``)."""

    warehouse_dir: Path

    def get(self, tenant_id: str) -> Warehouse: ...

    def close_all(self) -> None: ...


@runtime_checkable
class CredentialCache(Protocol):
    """A cache of resolved credentials (write keys, API keys) kept in ``AppState.services``: the module
    that revokes a credential tells it to forget the owner at once, without importing the module that
    owns the cache."""

    def forget(self, owner_id: str) -> None: ...


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    warehouses: Warehouses
    control_token: str
    #: Which module serves each route, by ``id()`` of the route object the router puts in
    #: ``scope["route"]`` (routes are unhashable and live as long as the app), filled at mount time.
    route_modules: dict[int, str] = field(default_factory=dict)
    #: Long-lived domain services started in the lifespan (ingest pipeline, import runner), by name.
    services: dict[str, Any] = field(default_factory=dict)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.ecomops
    return state
