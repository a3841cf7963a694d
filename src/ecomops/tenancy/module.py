"""The tenancy module: shops (tenants), event sources with write keys, API keys, per-tenant modules."""

from __future__ import annotations

from pathlib import Path

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import MANAGERS, Permission
from ecomops.tenancy import api, pages
from ecomops.tenancy.cli import apikey_app, module_app, source_app, tenant_app

module = Module(
    name="tenancy",
    title=N_("Shops and keys"),
    summary=N_("Tenants, event sources and write keys, API keys, and which optional modules a shop uses."),
    docs="docs/modules.md",
    order=40,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    store_migrations=Path(__file__).parent / "store_migrations",
    nav=(
        NavEntry(
            "settings",
            N_("Shop settings"),
            "/settings",
            None,
            "settings",
            "sliders",
            N_("The shop's name, time zone and currency, and every settings page."),
            order=1,
        ),
        NavEntry(
            "sources",
            N_("Data sources"),
            "/sources",
            "keys:manage",
            "data",
            "plug",
            N_("Write keys and code snippets to send events."),
            order=10,
        ),
        NavEntry(
            "keys",
            N_("API keys"),
            "/settings/keys",
            "keys:manage",
            "settings",
            "key",
            N_("Keys for scripts and integrations."),
            order=20,
        ),
        NavEntry(
            "modules",
            N_("Modules"),
            "/settings/modules",
            "modules:manage",
            "settings",
            "grid",
            N_("Switch optional modules on or off for this shop."),
            order=40,
        ),
    ),
    commands=(
        Command("tenant", tenant_app),
        Command("source", source_app),
        Command("apikey", apikey_app),
        Command("module", module_app),
    ),
    permissions=(
        Permission("keys:manage", MANAGERS, "create, list and revoke API keys and write keys"),
        Permission("modules:manage", MANAGERS, "switch the shop's optional modules on or off"),
    ),
)
