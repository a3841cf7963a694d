"""Accounts tests run on SQLite and PostgreSQL (``store_engine``); API tests use the SQLite server."""

from __future__ import annotations

from tests.backends import empty_store_engine, pg_schema_url, store_engine, store_url

__all__ = ["empty_store_engine", "pg_schema_url", "store_engine", "store_url"]
