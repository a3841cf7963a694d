"""Tenant administration over HTTP: API keys, ingest sources (write keys), and the shop's modules.

The console's settings pages use these; the CLI has the same commands. Creating a credential is
sensitive: besides ``keys:manage`` it needs a fresh second factor from a console session
(``require_step_up``), and only an owner may create an owner key (an admin could otherwise raise
itself to owner through a key) or revoke one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.platform import enablement
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require, require_owner_for
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.state import AppState, CredentialCache
from ecomops.platform.web.stepup import require_step_up
from ecomops.tenancy import service as tenancy

router = APIRouter(prefix="/api/v1/t/{tenant}", tags=["administration"])

RoleName = Annotated[str, Field(pattern="^(owner|admin|analyst|marketer|operator|viewer)$")]
IdPath = Annotated[str, Path(max_length=64)]
ModuleName = Annotated[str, Path(max_length=40, description="Module name (``ecomops module list``)")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: RoleName
    expires_days: int | None = Field(default=None, ge=1, le=3650, description="None: never expires")


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    key_prefix: str
    created_at: datetime | None = None
    expires_at: datetime | None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class NewKeyOut(KeyOut):
    key: str = Field(description="The secret, shown this once; only its hash is stored")


class SourceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=40, description=f"One of: {', '.join(tenancy.CHANNELS)}")


class SourceOut(BaseModel):
    id: str
    name: str
    channel: str
    write_key_prefix: str
    previous_key_expires_at: datetime | None = Field(
        default=None, description="During a rotation's overlap, the previous write key works until then"
    )


class RotateIn(Strict):
    overlap_hours: float = Field(
        default=24,
        ge=0,
        le=tenancy.MAX_OVERLAP_HOURS,
        description="Hours the current key keeps working next to the new one (0: end it at once)",
    )


class NewSourceOut(SourceOut):
    write_key: str = Field(description="Ingest write key, shown this once")


class ModuleOut(BaseModel):
    name: str
    title: str
    summary: str
    optional: bool
    enabled: bool
    chosen: bool = Field(description="True when the shop chose; False when enabled is the default")


class ModuleSwitch(Strict):
    enabled: bool


@router.get(
    "/keys",
    response_model=list[KeyOut],
    summary="API keys of the tenant (never the secrets); ?format=csv|xlsx downloads them",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_keys(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    format: Annotated[
        Literal["csv", "xlsx"] | None, Query(description="Download the keys as CSV or .xlsx; audited")
    ] = None,
) -> list[KeyOut] | Response:
    require(ctx, "keys:manage")
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: tenancy.export_api_keys(state.engine, ctx.tenant, fmt, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    keys = await run_in_threadpool(tenancy.list_api_keys, state.engine, ctx.tenant.slug)
    return [KeyOut(**k.__dict__) for k in keys]


@router.post("/keys", response_model=NewKeyOut, status_code=201, summary="Create an API key (shown once)")
async def create_key(body: KeyIn, ctx: TenantDep, state: StateDep) -> NewKeyOut:
    require(ctx, "keys:manage")
    require_owner_for(ctx, body.role)
    require_step_up(ctx, "API key creation")
    expires = timedelta(days=body.expires_days) if body.expires_days else None
    info, secret = await run_in_threadpool(
        tenancy.create_api_key, state.engine, ctx.tenant.slug, body.role, body.name, expires
    )
    return NewKeyOut(
        id=info.id,
        name=info.name,
        role=info.role,
        key_prefix=info.key_prefix,
        expires_at=info.expires_at,
        key=secret,
    )


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key at once")
async def revoke_key(key_id: IdPath, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "keys:manage")
    await run_in_threadpool(
        lambda: tenancy.revoke_api_key(state.engine, ctx.tenant.slug, key_id, caller_role=ctx.role)
    )
    return Response(status_code=204)


@router.get("/sources", response_model=list[SourceOut], summary="Event sources and their write-key prefixes")
async def list_sources(ctx: TenantDep, state: StateDep) -> list[SourceOut]:
    require(ctx, "keys:manage")
    sources = await run_in_threadpool(tenancy.list_sources, state.engine, ctx.tenant.slug)
    return [_source_out(s) for s in sources]


def _source_out(s: tenancy.SourceInfo) -> SourceOut:
    return SourceOut(
        id=s.id,
        name=s.name,
        channel=s.channel,
        write_key_prefix=s.write_key_prefix,
        previous_key_expires_at=s.previous_key_expires_at,
    )


def _forget_write_keys(state: AppState, source_id: str) -> None:
    """Make this server stop accepting a revoked or rotated key at once (others within their cache time)."""
    cache = state.services.get("write_keys")
    if isinstance(cache, CredentialCache):
        cache.forget(source_id)


@router.post(
    "/sources/{source_id}/rotate",
    response_model=NewSourceOut,
    summary="Issue a new write key; the current one keeps working for overlap_hours",
)
async def rotate_source(source_id: IdPath, body: RotateIn, ctx: TenantDep, state: StateDep) -> NewSourceOut:
    require(ctx, "keys:manage")
    require_step_up(ctx, "write key creation")
    info, write_key = await run_in_threadpool(
        tenancy.rotate_source, state.engine, ctx.tenant.slug, source_id, body.overlap_hours
    )
    if body.overlap_hours == 0:
        _forget_write_keys(state, info.id)
    return NewSourceOut(**_source_out(info).model_dump(), write_key=write_key)


@router.delete("/sources/{source_id}", status_code=204, summary="Revoke a source's write keys at once")
async def revoke_source(source_id: IdPath, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "keys:manage")
    info = await run_in_threadpool(tenancy.revoke_source, state.engine, ctx.tenant.slug, source_id)
    _forget_write_keys(state, info.id)
    return Response(status_code=204)


@router.post(
    "/sources", response_model=NewSourceOut, status_code=201, summary="Create a source (write key once)"
)
async def create_source(body: SourceIn, ctx: TenantDep, state: StateDep) -> NewSourceOut:
    require(ctx, "keys:manage")
    require_step_up(ctx, "write key creation")
    info, write_key = await run_in_threadpool(
        tenancy.create_source, state.engine, ctx.tenant.slug, body.name, body.channel
    )
    return NewSourceOut(
        id=info.id,
        name=info.name,
        channel=info.channel,
        write_key_prefix=info.write_key_prefix,
        write_key=write_key,
    )


@router.get("/modules", response_model=list[ModuleOut], summary="Installed modules and which are on")
async def list_modules(ctx: TenantDep, state: StateDep) -> list[ModuleOut]:
    require(ctx, "modules:manage")
    states = await run_in_threadpool(enablement.module_states, state.engine, ctx.tenant.id)
    return [ModuleOut(**m.__dict__) for m in states]


@router.put("/modules/{name}", response_model=ModuleOut, summary="Switch an optional module on or off")
async def switch_module(name: ModuleName, body: ModuleSwitch, ctx: TenantDep, state: StateDep) -> ModuleOut:
    require(ctx, "modules:manage")
    changed = await run_in_threadpool(enablement.set_enabled, state.engine, ctx.tenant.id, name, body.enabled)
    return ModuleOut(**changed.__dict__)
