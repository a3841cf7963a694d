"""Everything a request may need, built once per process and hung on ``app.state.ecomops``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import WarehouseRegistry


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    warehouses: WarehouseRegistry
    control_token: str
    #: Long-lived domain services started in the lifespan (ingest pipeline, import runner), by name.
    services: dict[str, Any] = field(default_factory=dict)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.ecomops
    return state
