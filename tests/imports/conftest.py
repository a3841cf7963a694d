"""Helpers for import tests: run an import against the test tenant's warehouse and read it back."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ecomops.imports import jobs
from ecomops.imports.execution import run_job
from ecomops.imports.options import ImportOptions, ImportSummary, InputFile
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Importer:
    settings: Settings
    engine: Engine
    tenant: TenantInfo
    warehouse: Warehouse

    def run(self, files: list[Path], preset: str, **options: Any) -> ImportSummary:
        """Import like the CLI does without a server: a job row, then the service."""
        inputs = [InputFile(p, p.name) for p in files]
        job = jobs.create_job(
            self.engine,
            self.tenant.id,
            preset,
            [f.name for f in inputs],
            sum(p.stat().st_size for p in files),
        )
        return run_job(
            settings=self.settings,
            engine=self.engine,
            warehouse=self.warehouse,
            tenant=self.tenant,
            job_id=job.id,
            files=inputs,
            options=ImportOptions(preset=preset, **options),
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.warehouse.query(sql, params)

    def one(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.query(sql, params)[0][0]

    def counts(self) -> dict[str, int]:
        tables = (
            "orders",
            "order_items",
            "refunds",
            "order_charges",
            "customers",
            "products",
            "reviews",
            "order_payments",
            "sellers",
            "product_category_translations",
            "_imports",
        )
        return {t: self.one(f"SELECT count(*) FROM {t}") for t in tables}


@pytest.fixture
def importer(settings: Settings, engine: Engine, tenant: TenantInfo) -> Iterator[Importer]:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        yield Importer(settings, engine, tenant, warehouse)
    finally:
        warehouse.close()


def read_rejects(summary: ImportSummary) -> list[dict[str, str]]:
    with open(summary.reject_file, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
