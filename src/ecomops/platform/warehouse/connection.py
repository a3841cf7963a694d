"""Open tenant warehouses.

DuckDB allows one read-write process per file, so the server process owns each
tenant's file: ``WarehouseRegistry`` keeps one connection per tenant, hands out
cursors for reads and serialises writes behind a per-tenant lock. Commands run
without a server open the file themselves (``open_warehouse``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ecomops.platform.warehouse.schema import migrate


def warehouse_path(warehouse_dir: Path, tenant_id: str) -> Path:
    return warehouse_dir / f"{tenant_id}.duckdb"


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect with the settings every warehouse session relies on (UTC session zone, bounded threads)."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}; create the tenant first")
    con = duckdb.connect(str(path), read_only=read_only, config={"threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        migrate(con)
    return con


@dataclass
class Warehouse:
    """One tenant's DuckDB file with its write lock."""

    tenant_id: str
    path: Path
    con: duckdb.DuckDBPyConnection
    write_lock: threading.RLock = field(default_factory=threading.RLock)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread's reads; DuckDB connections must not be shared across threads."""
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on a private cursor; commit on success, roll back on error."""
        with self.write_lock:
            cur = self.cursor()
            cur.execute("BEGIN")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).fetchall()
        finally:
            cur.close()

    def close(self) -> None:
        self.con.close()


class WarehouseRegistry:
    """Per-process map tenant_id → open Warehouse."""

    def __init__(self, warehouse_dir: Path) -> None:
        self.warehouse_dir = warehouse_dir
        self._open: dict[str, Warehouse] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> Warehouse:
        with self._lock:
            wh = self._open.get(tenant_id)
            if wh is None:
                path = warehouse_path(self.warehouse_dir, tenant_id)
                wh = Warehouse(tenant_id, path, connect(path))
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
