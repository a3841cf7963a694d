"""All console routes as one router (registered in ``app.ROUTERS`` through ``web.pages``)."""

from __future__ import annotations

from fastapi import APIRouter

from ecomops.alerts import pages as alerts_page
from ecomops.analytics import pages as home
from ecomops.console import admin
from ecomops.live import pages as live_page
from ecomops.orders import pages as orders

router = APIRouter(include_in_schema=False)
for part in (home.router, orders.router, admin.router, live_page.router, alerts_page.router):
    router.include_router(part)
