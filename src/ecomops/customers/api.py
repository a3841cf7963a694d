"""``/api/v1/t/{tenant}/customers``: customer list and profile, PII masked unless revealed, and each
customer's consents (``…/{customer_id}/consents``: GET with customers:read, POST with consents:write).

``?reveal=true`` needs ``customers:read_pii`` (owners and admins), a fresh second factor for console
sessions (``platform.web.stepup``), and writes a ``customer.pii_read`` audit record. Without it PII comes
back masked (``a***@example.com``) for anyone with ``customers:read``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.customers import service
from ecomops.kernel.errors import NotFound
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantContext, TenantDep
from ecomops.platform.web.state import AppState
from ecomops.platform.web.stepup import require_step_up
from ecomops.privacy import service as consent_service

router = APIRouter(prefix="/api/v1/t/{tenant}/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="Pseudonymous customer id")]


class PiiOut(BaseModel):
    """Vault fields present for the customer; masked unless revealed."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    birthday: str | None = None


class CustomerOut(BaseModel):
    customer_id: str
    source: str | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    signup_at: datetime | None
    channel: str | None
    country: str | None
    region: str | None
    city: str | None
    orders_count: int
    spend: str = Field(description="Sum of non-cancelled order totals, as a decimal string")
    last_order_at: datetime | None
    pii: PiiOut | None


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    total: int
    limit: int
    offset: int


class OrderBrief(BaseModel):
    order_id: str
    external_id: str | None
    ordered_at: datetime
    status: str
    channel: str | None
    currency: str
    total: str
    items_count: int


class OrdersSummary(BaseModel):
    orders_count: int
    spend: str
    refunded_orders: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    currency: str | None
    recent: list[OrderBrief]


class CustomerProfile(BaseModel):
    customer_id: str
    source: str | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    signup_at: datetime | None
    channel: str | None
    country: str | None
    region: str | None
    city: str | None
    attributes: Any = None
    orders: OrdersSummary
    pii: PiiOut | None


@contextmanager
def _cursor(state: AppState, tenant_id: str) -> Iterator[Any]:
    cur = state.warehouses.get(tenant_id).cursor()
    try:
        yield cur
    finally:
        cur.close()


RevealQuery = Annotated[
    bool, Query(description="Show PII in clear text (needs customers:read_pii; audited as customer.pii_read)")
]


@router.get("", response_model=CustomerPage, summary="Customers with order counts and spend")
async def list_customers(
    ctx: TenantDep,
    state: StateDep,
    email: Annotated[
        str | None, Query(min_length=3, max_length=320, description="Exact email (any case)")
    ] = None,
    phone: Annotated[str | None, Query(min_length=3, max_length=40, description="Exact phone number")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    reveal: RevealQuery = False,
) -> dict[str, Any]:
    require(ctx, "customers:read")
    if reveal:
        require(ctx, "customers:read_pii")
        require_step_up(ctx, "customer.pii_read")

    def _run() -> dict[str, Any]:
        with _cursor(state, ctx.tenant.id) as cur:
            page = service.list_customers(
                cur,
                state.engine,
                ctx.tenant.id,
                limit=limit,
                offset=offset,
                email=email,
                phone=phone,
                reveal=reveal,
            )
        if reveal:
            shown = [item["customer_id"] for item in page["items"] if item["pii"]]
            service.audit_reveal(state.engine, ctx.tenant.id, shown, ctx.via)
        return page

    return await run_in_threadpool(_run)


@router.get("/{customer_id}", response_model=CustomerProfile, summary="A customer's profile")
async def get_customer(
    ctx: TenantDep,
    state: StateDep,
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
    reveal: RevealQuery = False,
) -> dict[str, Any]:
    require(ctx, "customers:read")
    if reveal:
        require(ctx, "customers:read_pii")
        require_step_up(ctx, "customer.pii_read")

    def _run() -> dict[str, Any]:
        with _cursor(state, ctx.tenant.id) as cur:
            profile = service.get_customer(cur, state.engine, ctx.tenant.id, customer_id, reveal=reveal)
        if reveal and profile["pii"]:
            service.audit_reveal(state.engine, ctx.tenant.id, [customer_id], ctx.via)
        return profile

    return await run_in_threadpool(_run)


# -- consents ----------------------------------------------------------------------------------------


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Literal["marketing_email", "marketing_sms", "personalisation", "analytics"]
    granted: bool
    source: str = Field(
        "api",
        min_length=1,
        max_length=40,
        description="Where the decision was captured (checkout_form, customer_service, …)",
    )


class ConsentOut(BaseModel):
    id: str
    customer_id: str
    purpose: str
    granted: bool
    source: str
    recorded_by: str
    recorded_at: datetime


class EligibilityOut(BaseModel):
    allowed: bool
    reason: str


class ConsentsOut(BaseModel):
    customer_id: str
    current: dict[str, ConsentOut]
    history: list[ConsentOut]
    marketing: dict[str, EligibilityOut]


def _consents(state: AppState, ctx: TenantContext, customer_id: str) -> dict[str, Any]:
    history = consent_service.consent_history(state.engine, ctx.tenant.id, customer_id)
    if not history:
        # An id this tenant has never seen is "not found", not an empty record: the same answer
        # for another tenant's customer ids and for typos.
        cur = state.warehouses.get(ctx.tenant.id).cursor()
        try:
            known = service.customer_known(cur, state.engine, ctx.tenant.id, customer_id)
        finally:
            cur.close()
        if not known:
            raise NotFound(f"customer {customer_id!r} not found", {"customer_id": customer_id})
    return {
        "customer_id": customer_id,
        "current": {p: r.__dict__ for p, r in consent_service.latest(history).items()},
        "history": [r.__dict__ for r in history],
        "marketing": {
            p: consent_service.marketing_allowed(state.engine, ctx.tenant.id, customer_id, p).__dict__
            for p in consent_service.MARKETING_PURPOSES
        },
    }


@router.get(
    "/{customer_id}/consents",
    response_model=ConsentsOut,
    summary="A customer's current consents, their full history and marketing eligibility",
)
async def get_consents(customer_id: CustomerId, ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "customers:read")
    return await run_in_threadpool(_consents, state, ctx, customer_id)


@router.post(
    "/{customer_id}/consents",
    response_model=ConsentOut,
    status_code=201,
    summary="Record a grant or a withdrawal for one purpose (appended to the history)",
)
async def post_consent(
    customer_id: CustomerId, body: ConsentIn, ctx: TenantDep, state: StateDep
) -> dict[str, Any]:
    require(ctx, "consents:write")
    record = await run_in_threadpool(
        consent_service.record_consent,
        state.engine,
        ctx.tenant.id,
        customer_id,
        body.purpose,
        body.granted,
        body.source,
    )
    return record.__dict__
