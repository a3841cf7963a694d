"""``/api/v1/t/{tenant}/audit``: browse and verify the tenant's audit log (owners and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ecomops.audit import anchor as anchors
from ecomops.audit import service
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/audit", tags=["audit"])
#: The log names every actor, IP and target: it is for the people answerable for the tenant.


class AuditRecordOut(BaseModel):
    id: str
    seq: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    ip: str | None
    request_id: str | None
    before_digest: str | None
    after_digest: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str | None
    last_seq: int | None
    head_hash: str | None


@router.get(
    "",
    response_model=list[AuditRecordOut],
    summary="Audit records, newest first; ?format=csv|xlsx downloads every matching record",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_audit(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    action: Annotated[str | None, Query(max_length=100, description="Exact, or a prefix ending in *")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    format: Annotated[
        Literal["csv", "xlsx"] | None,
        Query(description="Download every matching record (not one page) as CSV or .xlsx; audited"),
    ] = None,
) -> list[dict[str, Any]] | Response:
    require(ctx, "audit:read")
    if format is not None:
        fmt = format
        filters = {k: str(v) for k, v in (("action", action), ("since", since), ("until", until)) if v}
        table = await run_in_threadpool(
            lambda: service.export_log(
                state.engine,
                ctx.tenant,
                fmt,
                since=since,
                until=until,
                action=action or None,
                filters=filters,
                via=ctx.via,
            )
        )
        return export_response(table, fmt, request_locale(request))
    return await run_in_threadpool(
        lambda: service.export(
            state.engine,
            ctx.tenant.id,
            since=since,
            until=until,
            action=action or None,
            limit=limit,
            offset=offset,
            newest_first=True,
        )
    )


class AnchorOut(BaseModel):
    anchor: str
    tenant_id: str
    seq: int
    hash: str
    at: datetime


@router.get("/verify", response_model=VerifyOut, summary="Check the hash chain; names the first broken seq")
async def verify_audit(
    ctx: TenantDep,
    state: StateDep,
    anchor: Annotated[
        str | None,
        Query(
            max_length=anchors.MAX_LENGTH,
            description="An anchor from GET …/audit/anchor or `ecomops audit anchor`: also fail when the log "
            "no longer reaches the anchored record unchanged (truncation)",
        ),
    ] = None,
) -> dict[str, Any]:
    require(ctx, "audit:read")
    if anchor:
        anchored = anchors.parse_anchor(anchor)
        result = await run_in_threadpool(anchors.verify_with_anchor, state.engine, ctx.tenant.id, anchored)
    else:
        result = await run_in_threadpool(service.verify, state.engine, ctx.tenant.id)
    return result.as_dict()


@router.get(
    "/anchor",
    response_model=AnchorOut,
    summary="Verify the chain and sign its head; store the anchor elsewhere to detect truncation later",
    responses={409: {"description": "The chain is broken or empty: nothing trustworthy to anchor"}},
)
async def anchor_audit(ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "audit:read")
    made = await run_in_threadpool(anchors.make_anchor, state.engine, ctx.tenant.id)
    return made.as_dict()
