"""Doctor tests may point the store at the real PostgreSQL."""

from __future__ import annotations

from tests.backends import pg_schema_url

__all__ = ["pg_schema_url"]
