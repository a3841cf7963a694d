"""The customers module: customers with their orders and consents, PII masked unless revealed."""

from __future__ import annotations

from pathlib import Path

from ecomops.customers import api, pages
from ecomops.customers.cli import customers_app
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import ALL_ROLES, MANAGERS, Permission

module = Module(
    name="customers",
    title=N_("Customers"),
    summary=N_("Customers with orders, spend and consents; personal data masked unless revealed."),
    docs="docs/privacy.md",
    order=100,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "customers",
            N_("Customers"),
            "/customers",
            "customers:read",
            "analyse",
            "users",
            N_("Customers with their orders; personal data stays masked."),
            order=50,
        ),
    ),
    commands=(Command("customers", customers_app),),
    permissions=(
        Permission("customers:read", ALL_ROLES, "read customers (pseudonymised identifiers, aggregates)"),
        Permission(
            "customers:read_pii",
            MANAGERS,
            "read customers' personal data in clear text, or find customers by email or phone",
        ),
    ),
)
