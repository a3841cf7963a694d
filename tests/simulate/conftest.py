"""A small seeded demo shop shared by the read-only simulator tests (seeding once keeps them fast)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ecomops.platform.context import TenantInfo
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import upgrade
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import SeedResult, seed_demo
from ecomops.tenancy import service as tenancy

#: 200 days ending 2026-11-30 cover 618 and Double 11 with weeks on both sides.
SHOP_PARAMS = SeedParams(days=200, customers=3000, seed=7, end_date=date(2026, 11, 30))


@dataclass
class SeededShop:
    engine: Engine
    tenant: TenantInfo
    warehouse: Warehouse
    result: SeedResult
    manifest: dict[str, Any]

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.warehouse.query(sql, params)


def new_shop(root: Path, slug: str = "demo") -> tuple[Engine, TenantInfo, Warehouse]:
    root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{root / 'ecomops.sqlite3'}")
    upgrade(engine)
    tenant = tenancy.create_tenant(engine, slug, "Demo Shop", "Asia/Shanghai", "CNY")
    return engine, tenant, open_warehouse(root, tenant.id)


def seed(root: Path, params: SeedParams) -> SeededShop:
    engine, tenant, warehouse = new_shop(root)
    manifest_path = root / "manifest.json"
    result = seed_demo(engine, warehouse, tenant, params, manifest_path)
    return SeededShop(engine, tenant, warehouse, result, json.loads(manifest_path.read_text()))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededShop]:
    seeded = seed(tmp_path_factory.mktemp("shop"), SHOP_PARAMS)
    yield seeded
    seeded.warehouse.close()
    seeded.engine.dispose()


def content_hashes(warehouse: Warehouse, tables: tuple[str, ...]) -> dict[str, str]:
    """md5 of each table's rows rendered as text and sorted, so row order on disk does not matter."""
    out = {}
    for table in tables:
        row = warehouse.query(
            f"SELECT md5(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR)) FROM {table} t"
        )
        out[table] = row[0][0]
    return out
