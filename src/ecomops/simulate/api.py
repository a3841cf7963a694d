"""``POST /api/v1/t/{tenant}/demo/seed``: seed through the server that owns the tenant's warehouse;
``GET …/demo/coverage``: what demo shop is there (``demo seed --if-missing`` decides with it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.simulate import coverage, service
from ecomops.simulate import params as p
from ecomops.simulate.service import SeedResult

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


@router.post(
    "/seed",
    summary="Replace the tenant's demo-shop data with a freshly simulated shop",
    response_model=SeedResult,
    responses={403: {"description": "Role may not seed"}, 409: {"description": "Seed running or key clash"}},
)
async def seed(body: SeedRequest, ctx: TenantDep, state: StateDep) -> SeedResult:
    require(ctx, "demo:seed")
    params = p.SeedParams(body.days, body.customers, body.seed, body.end_date)
    return await run_in_threadpool(service.seed, state, ctx.tenant, params)


@router.get(
    "/coverage",
    summary="What demo shop the tenant holds: simulator products, customers and its latest event",
    response_model=coverage.Coverage,
    responses={403: {"description": "Role may not seed"}},
)
async def get_coverage(ctx: TenantDep, state: StateDep) -> coverage.Coverage:
    require(ctx, "demo:seed")
    return await run_in_threadpool(coverage.coverage, state, ctx.tenant)
