"""The imports module: bulk CSV/Parquet/Excel imports with presets and reject reports."""

from __future__ import annotations

from pathlib import Path

from ecomops.imports import api, metrics, pages, runner
from ecomops.imports.cli import import_cmd
from ecomops.imports.execution import delete_reject_files
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry, RetentionSweep
from ecomops.platform.roles import ALL_ROLES, MANAGERS, Permission

module = Module(
    name="imports",
    title=N_("Imports"),
    summary=N_(
        "Bulk imports (Online Retail II, Olist, Shopify, generic mapping; session exports as events) "
        "with reject reports."
    ),
    docs="docs/imports.md",
    order=30,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "imports",
            N_("Imports"),
            "/imports",
            "imports:read",
            "data",
            "upload",
            N_("Upload order exports and follow their progress."),
            order=20,
        ),
    ),
    commands=(Command("import", import_cmd),),
    permissions=(
        Permission("imports:read", ALL_ROLES, "list imports, their status and reject files"),
        Permission("imports:run", MANAGERS | {"operator"}, "upload files and start an import"),
    ),
    warehouse_migrations=Path(__file__).parent / "warehouse_sql",
    startup=runner.startup,
    shutdown=runner.shutdown,
    retention_sweeps=(RetentionSweep("reject_files_days", "reject_files_deleted", delete_reject_files),),
    metrics=(metrics.collect,),
)
