"""``POST /api/v1/t/{tenant}/demo/seed``: seed through the server that owns the tenant's warehouse."""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import Conflict
from ecomops.platform.context import TenantInfo
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.state import AppState
from ecomops.simulate import params as p
from ecomops.simulate.service import SeedResult, default_manifest_path, seed_demo

router = APIRouter(prefix="/api/v1/t/{tenant}/demo", tags=["demo"])


class SeedRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    days: int = Field(
        p.DEFAULT_DAYS, ge=p.MIN_DAYS, le=p.MAX_DAYS, description="Length of the simulated window"
    )
    customers: int = Field(
        p.DEFAULT_CUSTOMERS,
        ge=p.MIN_CUSTOMERS,
        le=p.MAX_CUSTOMERS,
        description="Customers in the customers table (exact)",
    )
    seed: int = Field(p.DEFAULT_SEED, ge=0, le=2**63 - 1, description="Same seed and parameters, same data")
    # JSON has no date type, so this one field accepts its ISO string.
    end_date: Annotated[date, Field(strict=False, description="Last simulated day (tenant-local)")] = (
        p.DEFAULT_END_DATE
    )


class SeedResponse(BaseModel):
    tenant: str
    params: dict[str, Any]
    row_counts: dict[str, int]
    store_counts: dict[str, int]
    timings: dict[str, float]
    events_per_second: float
    manifest_path: str
    manifest: dict[str, Any]


def _seed(state: AppState, tenant: TenantInfo, params: p.SeedParams) -> SeedResult:
    """One seed per server process at a time: two would each hold a full shop in memory."""
    lock: threading.Lock = state.services.setdefault("demo_seed_lock", threading.Lock())
    if not lock.acquire(blocking=False):
        raise Conflict("a demo seed is already running in this server; try again when it finishes")
    try:
        warehouse = state.warehouses.get(tenant.id)
        return seed_demo(
            state.engine,
            warehouse,
            tenant,
            params,
            default_manifest_path(state.settings, tenant.slug),
        )
    finally:
        lock.release()


@router.post(
    "/seed",
    summary="Replace the tenant's demo-shop data with a freshly simulated shop",
    responses={403: {"description": "Role may not seed"}, 409: {"description": "Seed running or key clash"}},
)
async def seed(body: SeedRequest, ctx: TenantDep, state: StateDep) -> SeedResponse:
    require(ctx, "demo:seed")
    params = p.SeedParams(body.days, body.customers, body.seed, body.end_date)
    result = await run_in_threadpool(_seed, state, ctx.tenant, params)
    return SeedResponse(**result.to_dict())
