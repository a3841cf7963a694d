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

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.platform.permissions import require
from ecomops.platform.warehouse import facts
from ecomops.platform.web.deps import StateDep, TenantContext, TenantDep
from ecomops.platform.web.state import AppState
from ecomops.platform.web.stepup import require_step_up
from ecomops.privacy import compaction, retention
from ecomops.privacy import requests as privacy_requests

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


class PrivacyRequestOut(BaseModel):
    id: str
    kind: str
    subject: str
    lookup: str
    status: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, Any] | None
    error: str | None
    bundle_available: bool
    bundle_expires_at: datetime | None
    download_url: str | None


def _out(info: privacy_requests.RequestInfo, slug: str) -> dict[str, Any]:
    data = dict(info.__dict__)
    data["download_url"] = (
        f"/api/v1/t/{slug}/privacy/requests/{info.id}/download" if info.bundle_available else None
    )
    return data


PERMISSION = {"export": "customers:read_pii", "erasure": "privacy:erase"}
STEP_UP_ACTION = {"export": "privacy export", "erasure": "privacy erasure"}


def _submit(state: AppState, ctx: TenantContext, body: PrivacyRequestIn) -> privacy_requests.RequestInfo:
    lookup = privacy_requests.Lookup(body.customer_id, body.email, body.phone)
    lookup.kind()  # 422 for zero or several identifiers before the warehouse is touched
    warehouse = state.warehouses.get(ctx.tenant.id)
    # Every event acknowledged so far counts: its PII is in the vault for an email/phone lookup, its
    # rows are in the export. (The erasure seals the buffers again right before its own work.)
    facts.load_pending(state, ctx.tenant, delete_buffers=False)

    def seal() -> int:
        return facts.load_pending(state, ctx.tenant, delete_buffers=True)

    sealer = seal if body.kind == "erasure" else None
    info = privacy_requests.submit(state.engine, warehouse, ctx.tenant, body.kind, lookup, seal_wal=sealer)
    if info.kind == "erasure" and info.status == privacy_requests.DONE:
        # This process has the file open: the rewrite waits for the next start (privacy.compaction).
        compaction.mark_pending(state.settings.warehouse_dir(), ctx.tenant.id)
    return info


@router.post(
    "/privacy/requests",
    response_model=PrivacyRequestOut,
    status_code=201,
    summary="Export everything about a customer, or erase them (runs now; answers the finished request)",
    responses={
        403: {"description": "Role may not, or a fresh second factor is needed (step_up_required)"},
        409: {"description": "Several customers share that email/phone"},
    },
)
async def post_request(body: PrivacyRequestIn, ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, PERMISSION[body.kind])
    require_step_up(ctx, STEP_UP_ACTION[body.kind])
    info = await run_in_threadpool(_submit, state, ctx, body)
    return _out(info, ctx.tenant.slug)


@router.get(
    "/privacy/requests", response_model=list[PrivacyRequestOut], summary="Privacy requests, newest first"
)
async def list_requests(
    ctx: TenantDep,
    state: StateDep,
    kind: Annotated[Literal["export", "erasure"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[dict[str, Any]]:
    require(ctx, "customers:read_pii")
    infos = await run_in_threadpool(
        lambda: privacy_requests.list_requests(
            state.engine, ctx.tenant.id, kind=kind, limit=limit, offset=offset
        )
    )
    return [_out(i, ctx.tenant.slug) for i in infos]


@router.get("/privacy/requests/{request_id}", response_model=PrivacyRequestOut, summary="One privacy request")
async def get_request(request_id: RequestId, ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "customers:read_pii")
    info = await run_in_threadpool(privacy_requests.get_request, state.engine, ctx.tenant.id, request_id)
    return _out(info, ctx.tenant.slug)


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


class RetentionOut(BaseModel):
    events_days: int | None
    events_action: str
    dead_letters_days: int | None
    reject_files_days: int | None
    updated_by: str | None
    updated_at: datetime | None
    last_run_at: datetime | None
    last_run_summary: dict[str, Any] | None


@router.get("/privacy/retention", response_model=RetentionOut, summary="The tenant's retention policy")
async def get_retention(ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "privacy:retention")
    policy = await run_in_threadpool(retention.get_policy, state.engine, ctx.tenant.id)
    return policy.as_dict()


@router.put(
    "/privacy/retention", response_model=RetentionOut, summary="Replace the tenant's retention policy"
)
async def put_retention(body: RetentionIn, ctx: TenantDep, state: StateDep) -> dict[str, Any]:
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
    return policy.as_dict()


@router.post("/privacy/retention/run", summary="Apply the retention policy now; answers the counts")
async def run_retention(ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "privacy:retention")
    return await run_in_threadpool(
        retention.run_retention,
        state.engine,
        state.settings,
        state.warehouses.get(ctx.tenant.id),
        ctx.tenant,
    )
