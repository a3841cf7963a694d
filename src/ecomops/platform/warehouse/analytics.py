"""Ibis access to a tenant warehouse, so analytics are backend-portable expressions."""

from __future__ import annotations

import ibis
from ibis.backends.duckdb import Backend

from ecomops.platform.warehouse.connection import Warehouse


def ibis_backend(warehouse: Warehouse) -> Backend:
    """An Ibis DuckDB backend over a cursor of the tenant's connection (same process, same file)."""
    return ibis.duckdb.from_connection(warehouse.cursor())
