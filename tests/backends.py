"""Operational-store backends for tests: SQLite in the data dir and the real PostgreSQL.

Each PostgreSQL test gets its own schema with a random name, selected through the connection's
``search_path`` (``options=-csearch_path=…`` in the URL, exactly how a deployment would point
ecomops at a schema), and dropped with CASCADE afterwards, so tests never see each other's rows
and a crashed run leaves at most one stray schema behind.

Import the fixtures into a ``conftest.py`` to use them there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import Engine

from ecomops.settings import Settings
from ecomops.store.db import engine_for, make_engine
from ecomops.store.migrate import upgrade

POSTGRES_URL = os.environ.get("ECOMOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _require_postgres() -> None:
    """Skip on a developer machine without PostgreSQL; in CI (which starts it) a missing server fails."""
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")


def url_with_search_path(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections live in a fresh, empty schema; the schema is dropped afterwards."""
    _require_postgres()
    schema = f"ecomops_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = url_with_search_path(POSTGRES_URL, schema)
    try:
        yield url
    finally:
        # CLI code paths cache engines per URL; close their connections before dropping the schema.
        engine_for(url).dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """The operational store URL for this test, parametrized over SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return settings.resolved_database_url
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def empty_store_engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty store (no migrations applied)."""
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store_engine(empty_store_engine: Engine) -> Engine:
    """An engine on a store migrated to head."""
    upgrade(empty_store_engine)
    return empty_store_engine
