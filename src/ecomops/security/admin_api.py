"""Tenant administration over HTTP: API keys, ingest sources (write keys), members, MFA policy.

The console's settings pages use these; the CLI has the same commands. Creating a credential,
granting a role and relaxing the MFA policy are sensitive: besides the permission they need a fresh
second factor when done from a console session (``require_step_up``). Only an owner may hand out the
owner role or act on an owner (create an owner key, promote, demote or remove an owner); an admin could
otherwise raise itself to owner through a key or a colleague.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import Forbidden, NotFound
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantContext, TenantDep
from ecomops.security import accounts, auth
from ecomops.security.stepup import require_step_up
from ecomops.tenancy import service as tenancy

router = APIRouter(prefix="/api/v1/t/{tenant}", tags=["administration"])

RoleName = Annotated[str, Field(pattern="^(owner|admin|analyst|marketer|operator|viewer)$")]
IdPath = Annotated[str, Path(max_length=64)]


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


class NewSourceOut(SourceOut):
    write_key: str = Field(description="Ingest write key, shown this once")


class MemberIn(Strict):
    email: str = Field(max_length=320)
    role: RoleName


class RoleIn(Strict):
    role: RoleName


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: str


class MfaPolicy(Strict):
    require_mfa: bool


def _only_owner_grants_owner(ctx: TenantContext, *roles: str) -> None:
    if "owner" in roles and ctx.role != "owner":
        raise Forbidden(
            "only an owner can grant the owner role or change an owner's access",
            {"role": ctx.role},
        )


@router.get("/keys", response_model=list[KeyOut], summary="API keys of the tenant (never the secrets)")
async def list_keys(ctx: TenantDep, state: StateDep) -> list[KeyOut]:
    require(ctx, "keys:manage")
    keys = await run_in_threadpool(tenancy.list_api_keys, state.engine, ctx.tenant.slug)
    return [KeyOut(**k.__dict__) for k in keys]


@router.post("/keys", response_model=NewKeyOut, status_code=201, summary="Create an API key (shown once)")
async def create_key(body: KeyIn, ctx: TenantDep, state: StateDep) -> NewKeyOut:
    require(ctx, "keys:manage")
    _only_owner_grants_owner(ctx, body.role)
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
    await run_in_threadpool(tenancy.revoke_api_key, state.engine, ctx.tenant.slug, key_id)
    return Response(status_code=204)


@router.get("/sources", response_model=list[SourceOut], summary="Event sources and their write-key prefixes")
async def list_sources(ctx: TenantDep, state: StateDep) -> list[SourceOut]:
    require(ctx, "keys:manage")
    sources = await run_in_threadpool(tenancy.list_sources, state.engine, ctx.tenant.slug)
    return [
        SourceOut(id=s.id, name=s.name, channel=s.channel, write_key_prefix=s.write_key_prefix)
        for s in sources
    ]


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


@router.get("/members", response_model=list[MemberOut], summary="Members and their roles")
async def list_members(ctx: TenantDep, state: StateDep) -> list[MemberOut]:
    require(ctx, "members:manage")
    members = await run_in_threadpool(accounts.list_members, state.engine, ctx.tenant.slug)
    return [MemberOut(user_id=m.user_id, email=m.email, role=m.role) for m in members]


async def _member(state: StateDep, ctx: TenantContext, user_id: str) -> accounts.MemberInfo:
    members = await run_in_threadpool(accounts.list_members, state.engine, ctx.tenant.slug)
    found = next((m for m in members if m.user_id == user_id), None)
    if found is None:
        raise NotFound(f"member {user_id!r} not found in this tenant", {"user_id": user_id})
    return found


@router.post(
    "/members", response_model=MemberOut, status_code=201, summary="Add an existing user as a member"
)
async def add_member(body: MemberIn, ctx: TenantDep, state: StateDep) -> MemberOut:
    require(ctx, "members:manage")
    _only_owner_grants_owner(ctx, body.role)
    require_step_up(ctx, "role change")
    info = await run_in_threadpool(accounts.add_member, state.engine, ctx.tenant.slug, body.email, body.role)
    return MemberOut(user_id=info.user_id, email=info.email, role=info.role)


@router.put("/members/{user_id}/role", response_model=MemberOut, summary="Change a member's role")
async def set_role(user_id: IdPath, body: RoleIn, ctx: TenantDep, state: StateDep) -> MemberOut:
    require(ctx, "members:manage")
    member = await _member(state, ctx, user_id)
    _only_owner_grants_owner(ctx, body.role, member.role)
    require_step_up(ctx, "role change")
    info = await run_in_threadpool(accounts.set_role, state.engine, ctx.tenant.slug, member.email, body.role)
    return MemberOut(user_id=info.user_id, email=info.email, role=info.role)


@router.delete("/members/{user_id}", status_code=204, summary="Remove a member (not the last owner)")
async def remove_member(user_id: IdPath, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "members:manage")
    member = await _member(state, ctx, user_id)
    _only_owner_grants_owner(ctx, member.role)
    await run_in_threadpool(accounts.remove_member, state.engine, ctx.tenant.slug, member.email)
    return Response(status_code=204)


@router.get("/mfa-policy", response_model=MfaPolicy, summary="Must owners and admins use MFA?")
async def get_mfa_policy(ctx: TenantDep, state: StateDep) -> MfaPolicy:
    require(ctx, "members:manage")
    return MfaPolicy(require_mfa=await run_in_threadpool(auth.mfa_policy, state.engine, ctx.tenant.id))


@router.put("/mfa-policy", response_model=MfaPolicy, summary="Require or relax MFA for owners and admins")
async def put_mfa_policy(body: MfaPolicy, ctx: TenantDep, state: StateDep) -> MfaPolicy:
    require(ctx, "members:manage")
    if not body.require_mfa:
        _only_owner_grants_owner(ctx, "owner")  # relaxing protection is the owner's call
        require_step_up(ctx, "relaxing the MFA policy")
    await run_in_threadpool(auth.set_mfa_policy, state.engine, ctx.tenant.id, body.require_mfa)
    return body
