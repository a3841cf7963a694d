"""Warehouse migrations build the documented fact tables with exact money and time types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ecomops.platform.warehouse.connection import Warehouse, connect, open_warehouse
from ecomops.platform.warehouse.schema import (
    applied_versions,
    expected_versions,
    is_current,
    migrate,
    migrations,
)

#: ARCHITECTURE.md "Data → Warehouse": every table and the columns it promises.
DOCUMENTED: dict[str, set[str]] = {
    "events": {
        "type",
        "event",
        "anonymous_id",
        "user_id",
        "ts",
        "received_at",
        "message_id",
        "context",
        "properties",
        "channel",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "page_url",
        "x",
        "y",
        "revenue",
        "currency",
    },
    "orders": {"order_id", "customer_id", "status", "ordered_at", "currency", "subtotal", "total"},
    "order_items": {"order_id", "product_id", "sku", "quantity", "unit_price", "line_total", "currency"},
    "refunds": {"refund_id", "order_id", "amount", "currency", "refunded_at"},
    "customers": {"customer_id", "first_seen_at", "attributes"},
    "products": {"product_id", "sku", "name", "category", "price", "cost", "currency"},
    "inventory_snapshots": {"snapshot_at", "product_id", "warehouse_code", "on_hand", "reserved"},
    "ad_spend": {"date", "channel", "utm_source", "utm_medium", "utm_campaign", "spend", "currency"},
    "reviews": {"review_id", "product_id", "rating", "body", "created_at"},
    "competitor_prices": {"observed_at", "product_id", "competitor", "price", "currency"},
}
#: Column names that hold money anywhere in the warehouse.
MONEY_COLUMNS = {
    "revenue", "subtotal", "discount", "shipping", "tax", "total", "unit_price", "line_total", "amount",
    "price", "cost", "spend",
}  # fmt: skip
#: Personal data never reaches the warehouse (it lives encrypted in the operational store).
PII_COLUMNS = {"email", "phone", "name_full", "first_name", "last_name", "address", "street", "postcode"}


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = open_warehouse(tmp_path, "tn_test")
    yield wh
    wh.close()


def _columns(wh: Warehouse) -> dict[str, dict[str, str]]:
    rows = wh.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main'"
    )
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, {})[column] = data_type
    return tables


def test_every_documented_table_and_column_exists(warehouse: Warehouse) -> None:
    tables = _columns(warehouse)
    for table, columns in DOCUMENTED.items():
        assert table in tables, f"missing table {table}"
        missing = columns - set(tables[table])
        assert not missing, f"{table} lacks {sorted(missing)}"


def test_money_is_decimal_18_4_everywhere(warehouse: Warehouse) -> None:
    checked = 0
    for table, columns in _columns(warehouse).items():
        for column, data_type in columns.items():
            if column in MONEY_COLUMNS:
                assert data_type == "DECIMAL(18,4)", f"{table}.{column} is {data_type}"
                checked += 1
            # Floats are for coordinates and the screen's pixel ratio only, never for money.
            if data_type in ("DOUBLE", "FLOAT", "REAL"):
                assert (table, column) in {("events", "x"), ("events", "y"), ("events", "screen_density")}, (
                    f"{table}.{column} is {data_type}"
                )
    assert checked >= 15


def test_every_timestamp_is_timestamptz(warehouse: Warehouse) -> None:
    checked = 0
    for table, columns in _columns(warehouse).items():
        for column, data_type in columns.items():
            if column == "ts" or column.endswith("_at"):
                assert data_type == "TIMESTAMP WITH TIME ZONE", f"{table}.{column} is {data_type}"
                checked += 1
            assert data_type != "TIMESTAMP", f"{table}.{column} is a zone-less TIMESTAMP"
    assert checked >= 20


def test_no_pii_columns_in_the_warehouse(warehouse: Warehouse) -> None:
    for table, columns in _columns(warehouse).items():
        assert not PII_COLUMNS & set(columns), f"{table} holds PII columns {PII_COLUMNS & set(columns)}"


def test_versions_are_recorded_and_rerunning_migrate_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    con = connect(path)  # connect() migrates a writable connection
    try:
        assert is_current(con) and applied_versions(con) == expected_versions()
        assert {"platform", "imports", "analytics"} <= set(expected_versions())
        recorded = con.execute(
            "SELECT module, version, name FROM _module_migrations ORDER BY module, version"
        ).fetchall()
        assert recorded == sorted((m.module, m.version, m.name) for m in migrations())
        schema_before = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns ORDER BY ALL"
        ).fetchall()

        assert migrate(con) == []  # nothing pending

        assert con.execute("SELECT count(*) FROM _module_migrations").fetchone() == (len(migrations()),)
        schema_after = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns ORDER BY ALL"
        ).fetchall()
        assert schema_after == schema_before
    finally:
        con.close()
    # Reopening an up-to-date file applies nothing either.
    reopened = connect(path)
    try:
        assert migrate(reopened) == [] and is_current(reopened)
    finally:
        reopened.close()


def test_migrations_apply_incrementally_from_an_older_version(tmp_path: Path) -> None:
    """A file created by an older release picks up only the newer migrations."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE _module_migrations (module VARCHAR NOT NULL, version INTEGER NOT NULL, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
            "PRIMARY KEY (module, version))"
        )
        first = migrations()[0]
        con.execute(first.sql)
        con.execute(
            "INSERT INTO _module_migrations (module, version, name) VALUES (?, ?, ?)",
            [first.module, first.version, first.name],
        )
        assert migrate(con) == [(m.module, m.version) for m in migrations()[1:]]
        assert is_current(con)
    finally:
        con.close()


def test_a_file_from_before_modules_owned_their_migrations_is_converted(tmp_path: Path) -> None:
    """The old global sequence (core 1, imports 2, rollups 3-6) maps onto per-module versions."""
    path = tmp_path / "legacy.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE _schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        by_key = {(m.module, m.version): m for m in migrations()}
        for version, key in enumerate([("platform", 1), ("imports", 1), ("analytics", 1)], start=1):
            con.execute(by_key[key].sql)
            con.execute("INSERT INTO _schema_migrations (version, name) VALUES (?, ?)", [version, key[0]])
        assert applied_versions(con) == {"platform": 1, "imports": 1, "analytics": 1}
        assert migrate(con) == [
            ("platform", 2),
            ("ingest", 1),
            ("analytics", 2),
            ("analytics", 3),
            ("analytics", 4),
            ("analytics", 5),
            ("analytics", 6),
            ("orders", 1),
        ]
        assert is_current(con)
        legacy = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = '_schema_migrations'"
        ).fetchone()
        assert legacy == (0,)
    finally:
        con.close()


def test_read_only_connection_does_not_migrate(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        connect(tmp_path / "absent.duckdb", read_only=True)
    connect(tmp_path / "present.duckdb").close()
    ro = connect(tmp_path / "present.duckdb", read_only=True)
    try:
        assert is_current(ro)
        with pytest.raises(duckdb.Error):
            ro.execute("CREATE TABLE x (a INTEGER)")
    finally:
        ro.close()
