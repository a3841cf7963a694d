"""Privacy API: data-subject requests (export, erasure) and retention (a customer's consents are on the
customers API, next to the profile they belong to).

``/api/v1/t/{tenant}/privacy/requests``                  POST export (customers:read_pii) or erasure
                                                         (privacy:erase), GET list (customers:read_pii)
``/api/v1/t/{tenant}/privacy/requests/{id}[/download]``  GET (customers:read_pii)
``/api/v1/t/{tenant}/privacy/retention[/run]``           GET, PUT, POST run (privacy:retention)

Exports, erasures and bundle downloads also need a fresh second factor when the caller is a person
in the console (``require_step_up``). Requests run synchronously in the server, which owns the
tenant's warehouse; the answer is the finished request (status ``done`` or ``failed`` with the error).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.stepup import require_step_up
from ecomops.privacy import operations, retention
from ecomops.privacy import requests as privacy_requests
from ecomops.privacy.operations import PrivacyRequestView, RetentionView

router = APIRouter(prefix="/api/v1/t/{tenant}", tags=["privacy"])

CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="Pseudonymous customer id")]
RequestId = Annotated[str, Path(min_length=1, max_length=64, description="Privacy request id")]


# -- data-subject requests --------------------------------------------------------------------------


class PrivacyRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["export", "erasure"]
    customer_id: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, min_length=3, max_length=320)
    phone: str | None = Field(None, min_length=3, max_length=40)


PERMISSION = {"export": "customers:read_pii", "erasure": "privacy:erase"}
STEP_UP_ACTION = {"export": "privacy export", "erasure": "privacy erasure"}


@router.post(
    "/privacy/requests",
    response_model=PrivacyRequestView,
    status_code=201,
    summary="Export everything about a customer, or erase them (runs now; answers the finished request)",
    responses={
        403: {"description": "Role may not, or a fresh second factor is needed (step_up_required)"},
        409: {"description": "Several customers share that email/phone"},
    },
)
async def post_request(body: PrivacyRequestIn, ctx: TenantDep, state: StateDep) -> PrivacyRequestView:
    require(ctx, PERMISSION[body.kind])
    require_step_up(ctx, STEP_UP_ACTION[body.kind])
    lookup = privacy_requests.Lookup(body.customer_id, body.email, body.phone)
    # This process has the file open: an erasure's rewrite waits for the next start.
    return await run_in_threadpool(operations.submit_request, state, ctx.tenant, body.kind, lookup)


@router.get(
    "/privacy/requests", response_model=list[PrivacyRequestView], summary="Privacy requests, newest first"
)
async def list_requests(
    ctx: TenantDep,
    state: StateDep,
    kind: Annotated[Literal["export", "erasure"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[PrivacyRequestView]:
    require(ctx, "customers:read_pii")
    return await run_in_threadpool(
        lambda: operations.list_requests(state, ctx.tenant, kind=kind, limit=limit, offset=offset)
    )


@router.get(
    "/privacy/requests/{request_id}", response_model=PrivacyRequestView, summary="One privacy request"
)
async def get_request(request_id: RequestId, ctx: TenantDep, state: StateDep) -> PrivacyRequestView:
    require(ctx, "customers:read_pii")
    return await run_in_threadpool(operations.get_request, state, ctx.tenant, request_id)


@router.get(
    "/privacy/requests/{request_id}/download",
    summary="The export bundle (JSON with the customer's PII in clear; audited)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def download_bundle(request_id: RequestId, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "customers:read_pii")
    require_step_up(ctx, "privacy export")
    data = await run_in_threadpool(privacy_requests.read_bundle, state.engine, ctx.tenant.id, request_id)
    return Response(
        data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{request_id}.json"',
            "Cache-Control": "no-store",
        },
    )


# -- retention -----------------------------------------------------------------------------------------


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events_days: int | None = Field(None, ge=1, le=retention.MAX_DAYS, description="null keeps events")
    events_action: Literal["drop", "anonymise"] = "anonymise"
    dead_letters_days: int | None = Field(None, ge=1, le=retention.MAX_DAYS)
    reject_files_days: int | None = Field(None, ge=1, le=retention.MAX_DAYS)


@router.get("/privacy/retention", response_model=RetentionView, summary="The tenant's retention policy")
async def get_retention(ctx: TenantDep, state: StateDep) -> RetentionView:
    require(ctx, "privacy:retention")
    policy = await run_in_threadpool(retention.get_policy, state.engine, ctx.tenant.id)
    return operations.retention_view(policy)


@router.put(
    "/privacy/retention", response_model=RetentionView, summary="Replace the tenant's retention policy"
)
async def put_retention(body: RetentionIn, ctx: TenantDep, state: StateDep) -> RetentionView:
    require(ctx, "privacy:retention")
    policy = await run_in_threadpool(
        lambda: retention.set_policy(
            state.engine,
            ctx.tenant.id,
            events_days=body.events_days,
            events_action=body.events_action,
            dead_letters_days=body.dead_letters_days,
            reject_files_days=body.reject_files_days,
        )
    )
    return operations.retention_view(policy)


@router.post("/privacy/retention/run", summary="Apply the retention policy now; answers the counts")
async def run_retention(ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "privacy:retention")
    return await run_in_threadpool(operations.run_retention, state, ctx.tenant)
