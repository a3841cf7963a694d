"""All console routes as one router (registered in ``app.ROUTERS`` through ``web.pages``)."""

from __future__ import annotations

from fastapi import APIRouter

from ecomops.console import admin, home, orders

router = APIRouter(include_in_schema=False)
for part in (home.router, orders.router, admin.router):
    router.include_router(part)
