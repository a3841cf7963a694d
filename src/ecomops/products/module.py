"""The products module: product analytics (sales, stock, margin, reviews)."""

from __future__ import annotations

from pathlib import Path

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.products import api, pages
from ecomops.products.cli import products_app

module = Module(
    name="products",
    title=N_("Products"),
    summary=N_("Units sold, revenue, margin, stock on hand and reviews per product."),
    docs="docs/console.md",
    order=90,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "products",
            N_("Products"),
            "/products",
            "orders:read",
            "analyse",
            "box",
            N_("Units sold, revenue, margin, stock on hand and reviews per product."),
            order=40,
        ),
    ),
    commands=(Command("products", products_app),),
)
