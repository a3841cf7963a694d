"""The alerts module: rules on metrics and stock cover that fire signed webhooks."""

from __future__ import annotations

from pathlib import Path

from ecomops.alerts import api, pages, scheduler, service
from ecomops.alerts.cli import alerts_app
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Job, Module, NavEntry
from ecomops.platform.roles import ALL_ROLES, MANAGERS, Permission

module = Module(
    name="alerts",
    title=N_("Alerts"),
    summary=N_("Threshold and change rules on metrics and stock cover, signed webhooks with retries."),
    docs="docs/alerts.md",
    optional=True,
    order=120,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "alerts",
            N_("Alerts"),
            "/alerts",
            "alerts:read",
            "analyse",
            "bell",
            N_("Rules on metrics and stock that fire webhooks, and their recent firings."),
            order=60,
        ),
    ),
    commands=(Command("alerts", alerts_app),),
    permissions=(
        Permission("alerts:read", ALL_ROLES, "list alert rules and their firings"),
        Permission(
            "alerts:write",
            MANAGERS | {"marketer", "operator"},
            "create, change, delete and test-fire alert rules and their webhooks",
        ),
    ),
    jobs=(
        Job(
            "alerts.evaluate",
            interval_seconds=lambda settings: float(settings.alerts_interval_seconds),
            tenants=service.tenants_with_enabled_rules,
            run=scheduler.evaluate_tenant,
            actor=scheduler.ACTOR,
        ),
    ),
)
