"""``/api/v1/t/{tenant}/hello``: the shop's notes (read, add, delete) and its orders per day.

Thin: validate, check the permission, call the service. The platform has already authenticated the
caller (``TenantDep``) and refused the request with a 404 if the shop switched this module off.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops_hello import service
from ecomops_hello.models import MAX_NOTE

router = APIRouter(prefix="/api/v1/t/{tenant}/hello", tags=["hello"])
NoteId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]


class NoteIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_NOTE, description="The note's text")


@router.get("/notes", response_model=list[service.Note], summary="The shop's notes, newest first")
async def list_notes(ctx: TenantDep, state: StateDep) -> list[service.Note]:
    require(ctx, "hello:read")
    return await run_in_threadpool(service.list_notes, state.engine, ctx.tenant.id)


@router.post("/notes", response_model=service.Note, status_code=201, summary="Keep a note (audited)")
async def add_note(body: NoteIn, ctx: TenantDep, state: StateDep) -> service.Note:
    require(ctx, "hello:write")
    return await run_in_threadpool(service.add_note, state.engine, ctx.tenant.id, body.body, ctx.actor)


@router.delete("/notes/{note_id}", status_code=204, summary="Delete a note (audited)")
async def delete_note(note_id: NoteId, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "hello:write")
    await run_in_threadpool(service.delete_note, state.engine, ctx.tenant.id, note_id)
    return Response(status_code=204)


@router.get("/daily", response_model=list[service.DayCount], summary="Orders per day (UTC), newest first")
async def list_daily(
    ctx: TenantDep,
    state: StateDep,
    days: Annotated[int, Query(ge=1, le=service.MAX_DAYS, description="Days with orders to list")] = 30,
) -> list[service.DayCount]:
    require(ctx, "hello:read")
    return await run_in_threadpool(service.read_daily_orders, state, ctx.tenant.id, days)
