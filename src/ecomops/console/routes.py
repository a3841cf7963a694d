"""All console routes as one router (registered in ``app.ROUTERS`` through ``web.pages``)."""

from __future__ import annotations

from fastapi import APIRouter

from ecomops.console import admin, home, orders
from ecomops.console import alerts as alerts_page
from ecomops.console import live as live_page

router = APIRouter(include_in_schema=False)
for part in (home.router, orders.router, admin.router, live_page.router, alerts_page.router):
    router.include_router(part)
