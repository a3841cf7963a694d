"""Open tenant warehouses.

DuckDB allows one read-write process per file, so the server process owns each
tenant's file: ``WarehouseRegistry`` keeps one connection per tenant, hands out
cursors for reads and serialises writes behind a per-tenant lock. Commands run
without a server open the file themselves (``open_warehouse``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from ecomops.platform.warehouse.handle import FactsObserver, Warehouse, raw_connect, warehouse_path
from ecomops.platform.warehouse.schema import migrate

__all__ = ["Warehouse", "WarehouseRegistry", "connect", "open_warehouse", "warehouse_path"]


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect like every warehouse session (``handle.raw_connect``) and, when writable, migrate the file."""
    con = raw_connect(path, read_only=read_only)
    if not read_only:
        migrate(con)
    return con


class WarehouseRegistry:
    """Per-process map tenant_id → open Warehouse."""

    def __init__(self, warehouse_dir: Path, on_facts: FactsObserver | None = None) -> None:
        self.warehouse_dir = warehouse_dir
        #: Handed to every warehouse opened here (the server's metrics time the facts listeners).
        self.on_facts = on_facts
        self._open: dict[str, Warehouse] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> Warehouse:
        with self._lock:
            wh = self._open.get(tenant_id)
            if wh is None:
                path = warehouse_path(self.warehouse_dir, tenant_id)
                wh = Warehouse(tenant_id, path, connect(path), on_facts=self.on_facts)
                self._open[tenant_id] = wh
            return wh

    def close_all(self) -> None:
        with self._lock:
            for wh in self._open.values():
                wh.close()
            self._open.clear()


def open_warehouse(warehouse_dir: Path, tenant_id: str) -> Warehouse:
    path = warehouse_path(warehouse_dir, tenant_id)
    return Warehouse(tenant_id, path, connect(path))
