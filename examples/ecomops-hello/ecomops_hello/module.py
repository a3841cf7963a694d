"""The hello module's declaration: everything it brings to ecomops, in one value.

The entry point ``hello = "ecomops_hello.module:module"`` (``pyproject.toml``) is how ecomops finds
it; the registry then imports ``ecomops_hello.models`` so the notes table is tenant-scoped before any
session opens. Walk-through of each field: docs/modules.md.
"""

from __future__ import annotations

from pathlib import Path

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Job, Module, NavEntry
from ecomops.platform.roles import ALL_ROLES, MANAGERS, Permission
from ecomops_hello import api, pages, service
from ecomops_hello.cli import hello_app

HERE = Path(__file__).parent
#: The recount job's interval: hourly is plenty for a repair (the listener keeps the counts exact).
RECOUNT_SECONDS = 3600.0

module = Module(
    name="hello",
    title=N_("Hello"),
    summary=N_("Example module: a shop's notes and its orders per day (docs/modules.md)."),
    docs="docs/modules.md",
    # A shop may switch it off: its routes answer 404, its nav entry goes, its job skips the shop.
    optional=True,
    order=200,
    api=(api.router,),
    pages=(pages.router,),
    templates=HERE / "templates",
    nav=(
        NavEntry(
            "hello",
            N_("Hello"),
            "/hello",
            "hello:read",
            "data",
            "list",
            N_("Orders per day and the team's notes."),
            order=90,
        ),
    ),
    commands=(Command("hello", hello_app),),
    permissions=(
        Permission("hello:read", ALL_ROLES, "read the shop's notes and its orders per day"),
        Permission("hello:write", MANAGERS | {"marketer", "operator"}, "add and delete the shop's notes"),
    ),
    store_migrations=HERE / "store_migrations",
    warehouse_migrations=HERE / "warehouse_sql",
    jobs=(
        Job(
            "hello.recount",
            interval_seconds=lambda _settings: RECOUNT_SECONDS,
            tenants=service.every_tenant,
            run=service.recount_tenant,
            actor="system:hello",
        ),
    ),
    facts_listeners=(service.on_facts_changed,),
)
