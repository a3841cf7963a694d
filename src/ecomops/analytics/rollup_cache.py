"""Distinct counts of closed periods, kept between requests until a rollup change touches their hours.

Why: a dashboard's window totals need distinct buyers and visitors over whole periods (this month,
the month before, the same days last year), which the day rollups cannot add up, so they are the
most expensive part of a request left. The previous period and last year are history: their hours
change only when late or corrected facts arrive. Every rollup maintenance step bumps
``rollup_state.version`` and logs the UTC hours it changed in ``rollup_changes``; a result kept for a
period at version *v* is served at version *w* when no change logged in between overlaps the period.

Only results read from the hourly rollup tables alone are kept (buyer and visitor counts): values
that also depend on facts changed outside the maintenance steps (product costs, which campaigns have
ad spend) are always recomputed. A kept result can only be newer than the version it was stored
under (the version is read before the query), never older.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from typing import Any

import duckdb

#: Results kept per process (one per period × query × breakdown), least recently used dropped first.
MAX_ENTRIES = 2048
#: Breakdown values one kept result may hold: bounds memory (MAX_ENTRIES × this many small dicts).
MAX_VALUES_KEPT = 200
#: Change log rows kept; a result older than the log's first version is recomputed.
KEEP_CHANGES = 10_000

Cells = dict[Any, dict[str, Any]]


def record_change(cur: duckdb.DuckDBPyConnection, lo: datetime | None, hi: datetime | None) -> None:
    """Log that the rollups of UTC hours [lo, hi) changed (None: unbounded), in the writer's transaction."""
    cur.execute("UPDATE rollup_state SET version = coalesce(version, 0) + 1 WHERE id = 1")
    cur.execute("INSERT INTO rollup_changes SELECT version, ?, ? FROM rollup_state WHERE id = 1", [lo, hi])
    cur.execute(
        "DELETE FROM rollup_changes WHERE version <= (SELECT version FROM rollup_state WHERE id = 1) - ?",
        [KEEP_CHANGES],
    )


def state(cur: duckdb.DuckDBPyConnection) -> tuple[str, int] | None:
    """(epoch, version): which warehouse file ``cur`` reads (tenants never mix) and its rollup version;
    None for a file opened read-only before migration 0005 (nothing is kept for it)."""
    try:
        row = cur.execute("SELECT epoch, coalesce(version, 0) FROM rollup_state WHERE id = 1").fetchone()
    except (duckdb.BinderException, duckdb.CatalogException):
        return None
    return (str(row[0]), int(row[1])) if row and row[0] else None


class PeriodCache:
    """Process-wide kept results: key → (version, lo, hi, value)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, datetime, datetime, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get_many(self, cur: duckdb.DuckDBPyConnection, keys: list[Hashable], now: int) -> dict[Hashable, Any]:
        """The kept values of ``keys`` still valid at version ``now`` (one change-log query for all)."""
        with self._lock:
            entries = {k: self._entries[k] for k in keys if k in self._entries}
        valid: dict[Hashable, Any] = {}
        versions = [e[0] for e in entries.values() if e[0] != now]
        changes = _changes(cur, min([now, *versions]), max([now, *versions])) if versions else []
        for key, (stored, lo, hi, value) in entries.items():
            if stored == now or (changes is not None and not _overlaps(changes, stored, now, lo, hi)):
                valid[key] = value
        with self._lock:
            for key in keys:
                if key in valid and key in self._entries:
                    self._entries.move_to_end(key)
                elif key in entries:
                    self._entries.pop(key, None)
            self.hits += len(valid)
            self.misses += len(keys) - len(valid)
        return valid

    def put(self, key: Hashable, stored: int, lo: datetime, hi: datetime, value: Any) -> None:
        with self._lock:
            self._entries[key] = (stored, lo, hi, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


Change = tuple[int, datetime | None, datetime | None]


def _changes(cur: duckdb.DuckDBPyConnection, first: int, last: int) -> list[Change] | None:
    """Logged changes with versions in (first, last]; None when the log no longer reaches back to first."""
    row = cur.execute("SELECT min(version) FROM rollup_changes").fetchone()
    if first < last and (row is None or row[0] is None or row[0] > first + 1):
        return None
    rows = cur.execute(
        "SELECT version, lo, hi FROM rollup_changes WHERE version > ? AND version <= ?", [first, last]
    ).fetchall()
    return [(int(v), lo, hi) for v, lo, hi in rows]


def _overlaps(changes: list[Change], a: int, b: int, lo: datetime, hi: datetime) -> bool:
    """Whether a change between versions a and b touched hours in [lo, hi) (None bounds: unbounded)."""
    first, last = min(a, b), max(a, b)
    return any(
        first < v <= last and (c_lo is None or c_lo < hi) and (c_hi is None or c_hi > lo)
        for v, c_lo, c_hi in changes
    )


CACHE = PeriodCache()
