"""Tenancy tests run on SQLite and PostgreSQL; ``engine`` (used by the shared ``tenant`` fixture) follows."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.backends import empty_store_engine, pg_schema_url, store_engine, store_url

__all__ = ["empty_store_engine", "engine", "pg_schema_url", "store_engine", "store_url"]


@pytest.fixture
def engine(store_engine: Engine) -> Engine:
    return store_engine
