"""Operational-store backends for tests: SQLite in the data dir and the real PostgreSQL.

Each PostgreSQL test gets its own schema with a random name, selected through the connection's
``search_path`` (``options=-csearch_path=…`` in the URL, exactly how a deployment would point
ecomops at a schema), and dropped with CASCADE afterwards, so tests never see each other's rows
and a crashed run leaves at most one stray schema behind.

The application's connections run as ``ecomops_app``, an ordinary role (``options=-crole=…`` in the
same URL: the superuser ``postgres`` logs in and immediately becomes that role). Superusers ignore
row-level security, FORCE included, so only a non-superuser makes every PostgreSQL-backed test
exercise the tenant policies of ``store.rls``. The role owns what it creates in the test schema;
FORCE ROW LEVEL SECURITY binds the owner too.

Import the fixtures into a ``conftest.py`` to use them there.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import Engine

from ecomops.platform.settings import Settings
from ecomops.platform.store.db import engine_for, make_engine
from ecomops.platform.store.migrate import upgrade

POSTGRES_URL = os.environ.get("ECOMOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
#: The ordinary (non-superuser, no BYPASSRLS) role the application runs as in tests.
APP_ROLE = "ecomops_app"


def _require_postgres() -> None:
    """Skip on a developer machine without PostgreSQL; in CI (which starts it) a missing server fails."""
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")


def url_with_search_path(base_url: str, schema: str, role: str | None = None) -> str:
    """``base_url`` whose connections use ``schema`` (and run as ``role``, when given)."""
    separator = "&" if "?" in base_url else "?"
    options = f"-csearch_path={schema}" + (f" -crole={role}" if role else "")
    return f"{base_url}{separator}options={quote(options)}"


def ensure_app_role(conn: psycopg.Connection[object]) -> None:
    """Create the NOLOGIN application role once per server; concurrent test runs may race on it."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
    if exists is None:
        # Another test process may create it between our check and CREATE.
        with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            conn.execute(f'CREATE ROLE "{APP_ROLE}" NOLOGIN NOSUPERUSER NOBYPASSRLS')


@pytest.fixture
def pg_schema_url(data_dir: Path) -> Iterator[str]:
    """A URL whose connections live in a fresh, empty schema as the app role; dropped afterwards.

    The store's keys (the audit log's HMAC key, the PII master key) live in the data dir whatever the
    database, so a PostgreSQL test gets its own ``data_dir`` too: without it, recording an audit entry
    created ``.ecomops/keys/audit.key`` in the directory the tests ran from."""
    _require_postgres()
    schema = f"ecomops_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        ensure_app_role(conn)
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{APP_ROLE}"')
    url = url_with_search_path(POSTGRES_URL, schema, APP_ROLE)
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
