"""The analytics module: metric catalogue and KPI engine, rollups, funnel, the overview dashboard."""

from __future__ import annotations

from pathlib import Path

from ecomops.analytics import pages, rollups, warmup
from ecomops.analytics.api import funnel, metrics, sessions
from ecomops.analytics.cli.funnel import funnel_command
from ecomops.analytics.cli.metrics import metrics_command
from ecomops.analytics.cli.rollups import rollups_app
from ecomops.analytics.cli.sessions import sessions_command
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import MANAGERS, Permission

module = Module(
    name="analytics",
    title=N_("Analytics"),
    summary=N_(
        "Metric catalogue and KPI engine (GMV, AOV, conversion, ROAS…), rollups, funnel, session "
        "conversion, overview."
    ),
    docs="docs/metrics.md",
    order=70,
    api=(metrics.router, funnel.router, sessions.router),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry("home", N_("Overview"), "", None, "analyse", "home", order=10),
        NavEntry(
            "sessions",
            N_("Sessions"),
            "/sessions",
            "orders:read",
            "analyse",
            "list",
            N_("Conversion of imported sessions by month, traffic type, visitor type…"),
            order=20,
        ),
    ),
    commands=(
        Command("metrics", metrics_command),
        Command("rollups", rollups_app),
        Command("funnel", funnel_command),
        Command("sessions", sessions_command),
    ),
    permissions=(
        Permission(
            "rollups:rebuild",
            MANAGERS | {"operator"},
            "recompute the tenant's metric rollups from the raw facts (heavy; changes no fact)",
        ),
    ),
    warehouse_migrations=Path(__file__).parent / "warehouse_sql",
    facts_listeners=(rollups.on_facts_changed,),
    startup=warmup.startup,
    shutdown=warmup.shutdown,
)
