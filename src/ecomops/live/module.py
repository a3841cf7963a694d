"""The live module: today's GMV, orders, visitors and live streams, second by second; big screen."""

from __future__ import annotations

from pathlib import Path

from ecomops.live import api, hub, pages
from ecomops.live.cli import live_app
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry

module = Module(
    name="live",
    title=N_("Live dashboard"),
    summary=N_("Per-minute GMV, orders and visitors, hot products, live streams, unpaid orders (SSE)."),
    docs="docs/live.md",
    optional=True,
    order=110,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "live",
            N_("Live"),
            "/live",
            "orders:read",
            "analyse",
            "activity",
            N_("Today's GMV, orders, visitors and live streams, second by second; big-screen mode."),
            order=20,
        ),
    ),
    commands=(Command("live", live_app),),
    startup=hub.startup,
    shutdown=hub.shutdown,
)
