"""Tenant administration over HTTP: members, their roles, invitations, and the MFA policy.

The console's settings pages use these; the CLI has the same commands. People join by invitation
(``security.invitations``): ``POST …/members`` answers 202 with the same shape for every e-mail, so it
cannot be used to learn which e-mails have accounts on the platform. Granting a role and relaxing
the MFA policy are sensitive: besides the permission they need a fresh
second factor when done from a console session (``require_step_up``). Only an owner may hand out the
owner role or act on an owner (promote, demote or remove an owner); an admin could otherwise raise
itself to owner through a colleague.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import NotFound
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require, require_owner_for
from ecomops.platform.web.deps import StateDep, TenantContext, TenantDep
from ecomops.platform.web.stepup import require_step_up
from ecomops.security import accounts, auth, invitations

router = APIRouter(prefix="/api/v1/t/{tenant}", tags=["administration"])

RoleName = Annotated[str, Field(pattern="^(owner|admin|analyst|marketer|operator|viewer)$")]
IdPath = Annotated[str, Path(max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(Strict):
    email: str = Field(max_length=320)
    role: RoleName


class RoleIn(Strict):
    role: RoleName


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: str


class InvitationOut(BaseModel):
    id: str
    email: str
    role: str
    expires_at: datetime


class PendingInvitationOut(InvitationOut):
    invited_by: str
    created_at: datetime


class InvitedOut(BaseModel):
    status: str = Field(description="Always `invited`, whether or not the e-mail has an account")
    invitation: InvitationOut
    token: str = Field(description="Shown once: accept with POST /api/v1/invitations/accept")
    accept_url: str = Field(description="Shown once: the console link to forward to the invited person")


class MfaPolicy(Strict):
    require_mfa: bool


@router.get(
    "/members",
    response_model=list[MemberOut],
    summary="Members and their roles; ?format=csv|xlsx downloads them",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_members(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    format: Annotated[
        Literal["csv", "xlsx"] | None, Query(description="Download the members as CSV or .xlsx; audited")
    ] = None,
) -> list[MemberOut] | Response:
    require(ctx, "members:manage")
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: accounts.export_members(state.engine, ctx.tenant, fmt, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    members = await run_in_threadpool(accounts.list_members, state.engine, ctx.tenant.slug)
    return [MemberOut(user_id=m.user_id, email=m.email, role=m.role) for m in members]


async def _member(state: StateDep, ctx: TenantContext, user_id: str) -> accounts.MemberInfo:
    members = await run_in_threadpool(accounts.list_members, state.engine, ctx.tenant.slug)
    found = next((m for m in members if m.user_id == user_id), None)
    if found is None:
        raise NotFound(f"member {user_id!r} not found in this tenant", {"user_id": user_id})
    return found


@router.post(
    "/members",
    response_model=InvitedOut,
    status_code=202,
    summary="Invite someone by e-mail (the same answer whether or not they have an account)",
    responses={409: {"description": "Already a member of this tenant"}, 429: {"description": "Too many"}},
)
async def invite_member(body: MemberIn, request: Request, ctx: TenantDep, state: StateDep) -> InvitedOut:
    require(ctx, "members:manage")
    require_owner_for(ctx, body.role)
    require_step_up(ctx, "role change")
    invited = await run_in_threadpool(
        invitations.invite,
        state.engine,
        ctx.tenant.slug,
        body.email,
        body.role,
        days=state.settings.invitation_days,
        per_hour=state.settings.invitations_per_hour,
    )
    info = invited.invitation
    return InvitedOut(
        status="invited",
        invitation=InvitationOut(id=info.id, email=info.email, role=info.role, expires_at=info.expires_at),
        token=invited.token,
        accept_url=str(request.base_url).rstrip("/") + invitations.link(invited.token),
    )


@router.get("/invitations", response_model=list[PendingInvitationOut], summary="Invitations not yet accepted")
async def list_invitations(ctx: TenantDep, state: StateDep) -> list[PendingInvitationOut]:
    require(ctx, "members:manage")
    pending = await run_in_threadpool(invitations.list_pending, state.engine, ctx.tenant.slug)
    return [
        PendingInvitationOut(
            id=i.id,
            email=i.email,
            role=i.role,
            expires_at=i.expires_at,
            invited_by=i.invited_by,
            created_at=i.created_at,
        )
        for i in pending
    ]


@router.delete("/invitations/{invitation_id}", status_code=204, summary="Revoke a pending invitation")
async def revoke_invitation(invitation_id: IdPath, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "members:manage")
    found = await run_in_threadpool(invitations.get_invitation, state.engine, ctx.tenant.slug, invitation_id)
    require_owner_for(ctx, found.role)
    await run_in_threadpool(invitations.revoke, state.engine, ctx.tenant.slug, invitation_id)
    return Response(status_code=204)


@router.put("/members/{user_id}/role", response_model=MemberOut, summary="Change a member's role")
async def set_role(user_id: IdPath, body: RoleIn, ctx: TenantDep, state: StateDep) -> MemberOut:
    require(ctx, "members:manage")
    member = await _member(state, ctx, user_id)
    require_owner_for(ctx, body.role, member.role)
    require_step_up(ctx, "role change")
    info = await run_in_threadpool(accounts.set_role, state.engine, ctx.tenant.slug, member.email, body.role)
    return MemberOut(user_id=info.user_id, email=info.email, role=info.role)


@router.delete("/members/{user_id}", status_code=204, summary="Remove a member (not the last owner)")
async def remove_member(user_id: IdPath, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "members:manage")
    member = await _member(state, ctx, user_id)
    require_owner_for(ctx, member.role)
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
        require_owner_for(ctx, "owner")  # relaxing protection is the owner's call
        require_step_up(ctx, "relaxing the MFA policy")
    await run_in_threadpool(auth.set_mfa_policy, state.engine, ctx.tenant.id, body.require_mfa)
    return body
