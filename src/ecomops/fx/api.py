"""``/api/v1/t/{tenant}/fx-rates``: the tenant's FX table (list, set, delete, CSV import).

Reading is ``fx:read`` (every role: reports depend on it); changing is ``fx:write`` (owner, admin).
Each route parses, checks the permission and returns what its use case in ``fx.service`` returns.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecomops.fx import service
from ecomops.fx.service import ImportResult, Rate, RateTable
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/fx-rates", tags=["fx"])

#: Largest CSV accepted in one import (20,000 rows of ~25 bytes fit well within it).
MAX_CSV_CHARS = 1_000_000

RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller's role lacks fx:write"},
    422: {"description": "A bad currency, day or rate, naming the field (and the line, for imports)"},
}


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: StrictStr = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. GBP")
    valid_from: date = Field(description="First local day the rate applies to (YYYY-MM-DD)")
    rate: StrictStr = Field(
        min_length=1, max_length=30, description="Tenant-currency units per 1 unit, as a decimal string"
    )


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csv: StrictStr = Field(
        min_length=1, max_length=MAX_CSV_CHARS, description="CSV text with a header currency,valid_from,rate"
    )


@router.get(
    "",
    response_model=RateTable,
    summary="The tenant's dated FX rates; ?format=csv|xlsx downloads them",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_rates(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    format: Annotated[
        Literal["csv", "xlsx"] | None, Query(description="Download the rates as CSV or .xlsx; audited")
    ] = None,
) -> RateTable | Response:
    require(ctx, "fx:read")
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: service.export_rates(state.engine, ctx.tenant, fmt, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    return await run_in_threadpool(service.list_rates, state.engine, ctx.tenant)


@router.post(
    "", response_model=Rate, summary="Set one rate (replaces the same currency and day)", responses=RESPONSES
)
async def set_rate(ctx: TenantDep, state: StateDep, body: RateIn) -> Rate:
    require(ctx, "fx:write")
    return await run_in_threadpool(
        service.set_rate, state.engine, ctx.tenant, body.currency, body.valid_from, body.rate
    )


@router.delete(
    "",
    status_code=204,
    summary="Delete one rate",
    responses={404: {"description": "No such rate"}, **RESPONSES},
)
async def delete_rate(
    ctx: TenantDep,
    state: StateDep,
    currency: Annotated[str, Query(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")],
    valid_from: Annotated[date, Query(description="The rate's first day")],
) -> Response:
    require(ctx, "fx:write")
    await run_in_threadpool(service.delete_rate, state.engine, ctx.tenant, currency, valid_from)
    return Response(status_code=204)


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import rates from CSV (all rows or none; errors name line and field)",
    responses=RESPONSES,
)
async def import_rates(ctx: TenantDep, state: StateDep, body: ImportIn) -> ImportResult:
    require(ctx, "fx:write")
    return await run_in_threadpool(service.import_csv, state.engine, ctx.tenant, body.csv)
