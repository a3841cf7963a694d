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


def state(cur: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """(epoch, version): which warehouse file ``cur`` reads (tenants never mix) and its rollup version."""
    row = cur.execute("SELECT epoch, coalesce(version, 0) FROM rollup_state WHERE id = 1").fetchone()
    return (str(row[0]), int(row[1])) if row else ("", 0)


class PeriodCache:
    """Process-wide kept results: key → (version, lo, hi, value)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, datetime, datetime, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, cur: duckdb.DuckDBPyConnection, key: Hashable, now_version: int) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        stored, lo, hi, value = entry
        if stored != now_version and not _untouched(cur, stored, now_version, lo, hi):
            with self._lock:
                self._entries.pop(key, None)
            self.misses += 1
            return None
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, stored: int, lo: datetime, hi: datetime, value: Any) -> None:
        with self._lock:
            self._entries[key] = (stored, lo, hi, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _untouched(cur: duckdb.DuckDBPyConnection, a: int, b: int, lo: datetime, hi: datetime) -> bool:
    """No logged change between versions a and b overlaps [lo, hi), and the log reaches back to a."""
    first, last = min(a, b), max(a, b)
    row = cur.execute(
        """SELECT (SELECT coalesce(min(version), 9223372036854775807) FROM rollup_changes) <= $first + 1,
                  EXISTS (SELECT 1 FROM rollup_changes WHERE version > $first AND version <= $last
                          AND (lo IS NULL OR lo < $hi) AND (hi IS NULL OR hi > $lo))""",
        {"first": first, "last": last, "lo": lo, "hi": hi},
    ).fetchone()
    return bool(row and row[0] and not row[1])


CACHE = PeriodCache()
