"""The hello module's use cases: a shop's notes, and its orders per day.

Notes live in the operational store (``hello_notes``); every change is audited in the same
transaction. Orders per day live in the tenant's warehouse (``hello_daily_orders``): the facts
listener keeps them exact inside each writer's transaction, and the hourly job recounts them from
the orders, which repairs days a writer changed while this module was not installed in its process
(a CLI import without it on the path) and orders that moved to another day.

The API handlers, the console page, the CLI and the job all call these functions, so they cannot
drift. Another module that wanted the notes would import this file, and only this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pyarrow as pa
from sqlalchemy import Engine, select

from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.modules import FactsChanged
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.tenants import list_tenants
from ecomops.platform.web.state import AppState
from ecomops_hello.models import MAX_NOTE, HelloNote

#: Notes listed at most (newest first).
MAX_NOTES = 200
#: Days of orders listed at most.
MAX_DAYS = 366


@dataclass(frozen=True)
class Note:
    id: str
    body: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class DayCount:
    """Orders whose ``ordered_at`` falls on ``day`` (UTC)."""

    day: date
    orders: int


def _note(row: HelloNote) -> Note:
    return Note(row.id, row.body, row.created_by, row.created_at)


def list_notes(engine: Engine, tenant_id: str, limit: int = MAX_NOTES) -> list[Note]:
    """The shop's notes, newest first."""
    with tenant_session(engine, tenant_id) as s:
        rows = s.scalars(
            select(HelloNote).order_by(HelloNote.created_at.desc(), HelloNote.id.desc()).limit(limit)
        )
        return [_note(r) for r in rows]


def add_note(engine: Engine, tenant_id: str, body: str, actor: str) -> Note:
    """Keep a note (audited as ``hello.note_add``); surrounding blanks are dropped."""
    text = body.strip()
    if not text:
        raise ValidationFailed("a note needs some text", {"field": "body"})
    if len(text) > MAX_NOTE:
        raise ValidationFailed(
            f"a note holds at most {MAX_NOTE} characters, got {len(text)}",
            {"field": "body", "max_length": MAX_NOTE},
        )
    with tenant_session(engine, tenant_id) as s:
        row = HelloNote(tenant_id=tenant_id, body=text, created_by=actor)
        s.add(row)
        s.flush()
        record_action(s, tenant_id, "hello.note_add", "hello_note", row.id, after={"body": text})
        return _note(row)


def delete_note(engine: Engine, tenant_id: str, note_id: str) -> None:
    """Delete a note (audited as ``hello.note_delete``); another shop's note is not found."""
    with tenant_session(engine, tenant_id) as s:
        row = s.get(HelloNote, note_id)
        if row is None:
            raise NotFound(f"no note {note_id!r} in this shop", {"note_id": note_id})
        record_action(s, tenant_id, "hello.note_delete", "hello_note", note_id, before={"body": row.body})
        s.delete(row)


def daily_orders(cur: duckdb.DuckDBPyConnection, days: int) -> list[DayCount]:
    """The last ``days`` days that have orders, newest first."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"days must be between 1 and {MAX_DAYS}, got {days}", {"field": "days"})
    rows = cur.execute(
        "SELECT day, orders FROM hello_daily_orders ORDER BY day DESC LIMIT ?", [days]
    ).fetchall()
    return [DayCount(day, int(orders)) for day, orders in rows]


def read_daily_orders(state: AppState, tenant_id: str, days: int) -> list[DayCount]:
    """:func:`daily_orders` on a cursor of the shop's warehouse (the server's, or one the CLI opened)."""
    cur = state.warehouses.get(tenant_id).cursor()
    try:
        return daily_orders(cur, days)
    finally:
        cur.close()


def recount(cur: duckdb.DuckDBPyConnection) -> int:
    """Count every day again from the orders; returns how many days have orders."""
    cur.execute("DELETE FROM hello_daily_orders")
    cur.execute(
        "INSERT INTO hello_daily_orders (day, orders) "
        "SELECT CAST(ordered_at AS DATE), count(*) FROM orders GROUP BY 1"
    )
    row = cur.execute("SELECT count(*) FROM hello_daily_orders").fetchone()
    return int(row[0]) if row else 0


def _recount_days_of(cur: duckdb.DuckDBPyConnection, order_ids: pa.Table) -> None:
    """Count again only the days the given orders fall on (a load touches a few days of history)."""
    cur.register("_hello_ids", order_ids.select(["order_id"]))
    try:
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _hello_days AS SELECT DISTINCT CAST(ordered_at AS DATE) AS day "
            "FROM orders WHERE order_id IN (SELECT order_id FROM _hello_ids)"
        )
        cur.execute("DELETE FROM hello_daily_orders WHERE day IN (SELECT day FROM _hello_days)")
        cur.execute(
            "INSERT INTO hello_daily_orders (day, orders) "
            "SELECT CAST(ordered_at AS DATE), count(*) FROM orders "
            "WHERE CAST(ordered_at AS DATE) IN (SELECT day FROM _hello_days) GROUP BY 1"
        )
        cur.execute("DROP TABLE _hello_days")
    finally:
        cur.unregister("_hello_ids")


def on_facts_changed(cur: duckdb.DuckDBPyConnection, change: FactsChanged) -> None:
    """The module's facts listener: runs on the writer's cursor, before its commit.

    Loaded orders recount their days; a rebuild (demo seeding) or an erasure (orders deleted, their
    days unknown now) recounts everything; events older than a cutoff do not touch orders.
    """
    if change.kind == "loaded":
        ids = change.order_ids
        if not isinstance(ids, pa.Table):
            ids = pa.table({"order_id": pa.array(list(ids), pa.string())})
        if ids.num_rows:
            _recount_days_of(cur, ids)
    elif change.kind in ("rebuilt", "erased"):
        recount(cur)


def every_tenant(engine: Engine) -> list[str]:
    """The recount job's candidates: every shop (the scheduler skips those that switched hello off)."""
    return [t.id for t in list_tenants(engine)]


def recount_tenant(state: AppState, tenant: TenantInfo, now: datetime | None) -> dict[str, int]:
    """The job's work for one shop, in one write transaction of its warehouse.

    Not audited: it changes no one's data, only brings a derived table back in line with the orders
    (``now`` is not needed: a recount is the same whenever it runs).
    """
    with state.warehouses.get(tenant.id).write() as cur:
        return {"days": recount(cur)}
