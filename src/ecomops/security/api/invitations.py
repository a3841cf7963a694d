"""``POST /api/v1/invitations/accept``: the signed-in person joins the tenant an invitation names.

Not under ``/api/v1/t/{tenant}``: the accepting person is not a member yet, and the token (not the URL)
names the tenant. Only a console session can accept (an API key belongs to a tenant, not a person);
the call carries ``X-CSRF-Token`` like every session call, so another site cannot make a signed-in
visitor accept an invitation it planted.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import Unauthorized
from ecomops.platform.web.deps import StateDep
from ecomops.security import invitations, signin
from ecomops.security.api.auth import JsonOnly

router = APIRouter(prefix="/api/v1/invitations", tags=["administration"])


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)


class JoinedOut(BaseModel):
    tenant: str = Field(description="The shop's slug: its API is /api/v1/t/{tenant}")
    name: str
    role: str


@router.post(
    "/accept",
    response_model=JoinedOut,
    dependencies=[JsonOnly],
    summary="Accept an invitation as the signed-in user (its e-mail must match)",
    responses={
        401: {"description": "Not signed in"},
        404: {"description": "Expired, revoked, used, or for another e-mail (one answer)"},
        409: {"description": "Already a member"},
    },
)
async def accept(body: AcceptIn, request: Request, state: StateDep) -> JoinedOut:
    session = await signin.current_session(request, state)
    if session is None or session.stage != "active":
        raise Unauthorized("sign in (with your second factor, if you use one) to accept an invitation")
    signin.check_csrf(request.headers.get(signin.CSRF_HEADER), session)
    joined = await run_in_threadpool(invitations.accept, state.engine, body.token, session.user_id)
    return JoinedOut(tenant=joined.tenant_slug, name=joined.tenant_name, role=joined.role)
