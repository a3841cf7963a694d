"""Replace the simulator's rows in a tenant warehouse: delete every row it owns (ids start with ``sim_``;
ad spend by the campaign catalogue), then bulk-insert from Arrow tables. Rows from ingest or imports are
never touched. The caller wraps both in one transaction, so readers see the old shop or the new one.

The INSERT statements live in ``sql/*.sql``: static SQL whose only inputs are the registered Arrow tables
and named parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from ecomops import __version__
from ecomops.platform.warehouse import facts
from ecomops.simulate.marketing import CAMPAIGNS
from ecomops.simulate.params import ID_PREFIX

SQL_DIR = Path(__file__).parent / "sql"
#: Events go in slices: DuckDB's join and insert buffers scale with the statement, and slicing 4 M events
#: into 500 k-row statements cut the seed's peak memory by ~0.7 GB (and ran no slower).
EVENT_CHUNK_ROWS = 500_000

OWNED_BY_ID = (
    ("events", "message_id"),
    ("order_items", "item_id"),
    # Lines of the live demo's orders (ingest derives their item ids from the order id).
    ("order_items", "order_id"),
    ("orders", "order_id"),
    ("refunds", "refund_id"),
    ("reviews", "review_id"),
    ("customers", "customer_id"),
    ("products", "product_id"),
    ("inventory_snapshots", "product_id"),
    ("competitor_prices", "product_id"),
    ("live_sessions", "live_session_id"),
)

#: (sql file, named parameters it uses), in execution order (sessions builds the temp table others join).
STATEMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("products", ("currency", "as_of")),
    ("sessions", ("version",)),
    ("events", ("currency", "version")),
    ("orders", ("currency", "as_of")),
    ("order_items", ("currency",)),
    ("refunds", ("currency",)),
    ("reviews", ()),
    ("customers", ()),
    ("inventory_snapshots", ()),
    ("ad_spend", ("currency",)),
    ("competitor_prices", ("currency",)),
    ("live_sessions", ()),
)


@cache
def statement(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def delete_simulated(cur: duckdb.DuckDBPyConnection) -> None:
    """Remove every row a previous seed wrote (table and column names are the constants above)."""
    for table, column in OWNED_BY_ID:
        cur.execute(f"DELETE FROM {table} WHERE starts_with({column}, ?)", [ID_PREFIX])  # noqa: S608
    for c in CAMPAIGNS:
        cur.execute(
            "DELETE FROM ad_spend WHERE utm_source = ? AND utm_medium = ? AND utm_campaign = ?",
            [c.source, c.medium, c.name],
        )


def write_tables(
    cur: duckdb.DuckDBPyConnection,
    tables: dict[str, pa.Table],
    currency: str,
    as_of_us: int,
    *,
    timezone: str | None = None,
) -> None:
    """Insert all simulator tables on ``cur`` (the caller owns the transaction). On failure the caller rolls
    back and closes its cursor, which drops the registrations and the temp table with it; cleaning up here
    would only replace the real error with "transaction aborted". ``timezone`` (the tenant's) lets the
    listeners keep per-day aggregates in it."""
    values = {
        "currency": currency,
        "as_of": datetime.fromtimestamp(as_of_us / 1_000_000, UTC),
        "version": __version__,
    }
    for name, table in tables.items():
        if name != "sim_events":
            cur.register(name, table)
    for name, params in STATEMENTS:
        bound = {p: values[p] for p in params}
        if name != "events":
            cur.execute(statement(name), bound)
            continue
        events = tables["sim_events"]
        for offset in range(0, events.num_rows, EVENT_CHUNK_ROWS):
            cur.register("sim_events", events.slice(offset, EVENT_CHUNK_ROWS))
            cur.execute(statement(name), bound)
            cur.unregister("sim_events")
    cur.execute("DROP TABLE sim_sess")
    for name in tables:
        if name != "sim_events":
            cur.unregister(name)
    # A seed replaces most of the shop: rebuilding what is derived is cheaper than tracking hours.
    facts.publish(cur, facts.FactsChanged("rebuilt", timezone=timezone))
