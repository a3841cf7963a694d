"""The orders module: the orders explorer (filters, detail with items and refunds)."""

from __future__ import annotations

from pathlib import Path

from ecomops.orders import api, pages
from ecomops.orders.cli import orders_app
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import ALL_ROLES, Permission

module = Module(
    name="orders",
    title=N_("Orders"),
    summary=N_("Orders explorer: filters by date, channel, status, amount, customer, coupon, UTM."),
    docs="docs/console.md",
    order=80,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    warehouse_migrations=Path(__file__).parent / "warehouse_sql",
    nav=(
        NavEntry(
            "orders",
            N_("Orders"),
            "/orders",
            "orders:read",
            "analyse",
            "receipt",
            N_("Find orders by date, channel, status, amount, customer or coupon."),
            order=30,
        ),
    ),
    commands=(Command("orders", orders_app),),
    permissions=(Permission("orders:read", ALL_ROLES, "read orders and order analytics"),),
)
