"""The fx module: a tenant's dated exchange rates, which reports convert other currencies with."""

from __future__ import annotations

from pathlib import Path

from ecomops.fx import api, pages
from ecomops.fx.cli import fx_app
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import ALL_ROLES, MANAGERS, Permission

module = Module(
    name="fx",
    title=N_("Exchange rates"),
    summary=N_("Dated exchange rates (manual or CSV) so reports convert orders in other currencies."),
    docs="docs/fx.md",
    order=65,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "fx",
            N_("Exchange rates"),
            "/settings/fx",
            "fx:read",
            "settings",
            "list",
            N_("Dated rates that convert orders in other currencies into the shop's currency."),
            order=25,
        ),
    ),
    commands=(Command("fx", fx_app),),
    permissions=(
        Permission("fx:read", ALL_ROLES, "list the tenant's exchange rates"),
        Permission("fx:write", MANAGERS, "set, delete and import the tenant's exchange rates"),
    ),
    store_migrations=Path(__file__).parent / "store_migrations",
)
