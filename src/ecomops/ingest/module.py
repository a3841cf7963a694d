"""The ingest module: the Segment-compatible event API, its write-ahead log and dead letters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecomops.ingest import api, lifecycle, metrics
from ecomops.ingest.cli import ingest_app
from ecomops.ingest.loader_cli import loader
from ecomops.ingest.pii import load_pending_writes
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module
from ecomops.platform.roles import MANAGERS, Permission
from ecomops.platform.web.state import AppState


def _ready(state: AppState) -> dict[str, Any]:
    running = state.services.get("ingest")
    return {"ok": running is not None and bool(running.running)}


module = Module(
    name="ingest",
    title=N_("Event ingest"),
    summary=N_("Segment-compatible event API (/v1/*), durable write-ahead log, dead letters."),
    docs="docs/ingest.md",
    order=20,
    api=(api.router,),
    commands=(Command("ingest", ingest_app), Command("loader", loader)),
    permissions=(
        Permission(
            "ingest:read_dead_letters",
            MANAGERS | {"analyst", "operator"},
            "list dead letters (raw event payloads)",
        ),
        Permission(
            "events:write_dead_letters", MANAGERS | {"operator"}, "replay dead letters into the pipeline"
        ),
    ),
    startup=lifecycle.startup,
    shutdown=lifecycle.shutdown,
    warehouse_migrations=Path(__file__).parent / "warehouse_sql",
    pending_loaders=(load_pending_writes,),
    readiness=(("ingest", _ready),),
    metrics=(metrics.collect,),
)
