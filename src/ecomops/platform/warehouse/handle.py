"""A tenant's warehouse file and its connection: the handle every module works with.

Kept apart from ``connection`` (which migrates files and needs the installed modules' migrations) so
the server state can name the type without depending on module discovery.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ecomops.platform.settings import get_settings


def warehouse_path(warehouse_dir: Path, tenant_id: str) -> Path:
    return warehouse_dir / f"{tenant_id}.duckdb"


def memory_limit_mb() -> int:
    """Each warehouse's DuckDB memory limit: DuckDB's own default is 80 % of the machine *per database*,
    so a few tenants' queries could together take more than there is and get the server killed."""
    configured = get_settings().warehouse_memory_limit_mb
    if configured:
        return configured
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(256, total // 4 // (1024 * 1024))


def raw_connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect with the settings every warehouse session relies on (UTC session zone, bounded threads),
    without migrating (``connection.connect`` migrates writable connections)."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}; create the tenant first")
    con = duckdb.connect(
        str(path), read_only=read_only, config={"threads": 2, "memory_limit": f"{memory_limit_mb()}MB"}
    )
    con.execute("SET TimeZone = 'UTC'")
    return con


#: Told how long the facts listeners of one change took: (change kind, seconds), for ``/metrics``.
FactsObserver = Callable[[str, float], None]


@dataclass
class Warehouse:
    """One tenant's DuckDB file with its write lock.

    ``read_only``: opened read-only by a command while no server owns the file, so services skip
    maintenance writes (rollups kept on first use) and lock reads down further (no file access).
    """

    tenant_id: str
    path: Path
    con: duckdb.DuckDBPyConnection
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    read_only: bool = False
    #: The server's metrics, told about every facts change published in this file's transactions.
    on_facts: FactsObserver | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread's reads; DuckDB connections must not be shared across threads."""
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one use case's reads, closed when it is done (``with warehouse.reading() as cur``)."""
        cur = self.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on a private cursor; commit on success, roll back on error."""
        with self.write_lock:
            cur = self.cursor()
            cur.execute("BEGIN")
            token = _writing.set(self)
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                _writing.reset(token)
                cur.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).fetchall()
        finally:
            cur.close()

    def close(self) -> None:
        self.con.close()


#: The warehouse whose write transaction the current thread is in: hooks handed only the cursor
#: (``facts.publish``) find the file's observer through it.
_writing: ContextVar[Warehouse | None] = ContextVar("ecomops_warehouse_writing", default=None)


def writing() -> Warehouse | None:
    """The warehouse of the enclosing :meth:`Warehouse.write` block, if any."""
    return _writing.get()
