"""``/api/v1/t/{tenant}/customers``: customer list and profile, PII masked unless revealed, and each
customer's consents (``…/{customer_id}/consents``: GET with customers:read, POST with consents:write).

``?reveal=true`` needs ``customers:read_pii`` (owners and admins), a fresh second factor for console
sessions (``platform.web.stepup``), and writes a ``customer.pii_read`` audit record. Without it PII comes
back masked (``a***@example.com``) for anyone with ``customers:read``. Searching by ``?email=``/``?phone=``
also needs ``customers:read_pii`` (the answer says whether that person is a customer) and is audited as
``customer.pii_lookup``, found or not; so is ``?q=`` when it holds an email or a phone.

The list takes search, filters and a sort (``customers.query``); ``?format=csv|xlsx`` downloads every
customer they match (not just one page) through ``platform.export``, PII masked unless revealed,
audited as ``customers.export``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.customers import service
from ecomops.customers.query import MAX_TEXT, CustomerQuery, SortKey
from ecomops.customers.results import ConsentView, CustomerConsents, CustomerPage, CustomerProfile
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.stepup import require_step_up
from ecomops.privacy import service as consent_service

router = APIRouter(prefix="/api/v1/t/{tenant}/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="Pseudonymous customer id")]


RevealQuery = Annotated[
    bool, Query(description="Show PII in clear text (needs customers:read_pii; audited as customer.pii_read)")
]


Text = Annotated[str | None, Query(min_length=1, max_length=MAX_TEXT)]
Day = Annotated[date | None, Query(description="A calendar day in the shop's time zone (YYYY-MM-DD)")]
Count = Annotated[int | None, Query(ge=0, le=10**9)]
Amount = Annotated[Decimal | None, Query(ge=0, le=Decimal("1e14"), max_digits=18, decimal_places=4)]


@router.get(
    "",
    response_model=CustomerPage,
    summary="Customers with order counts and spend: search, filters, sort, pages, CSV/Excel export",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_customers(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    email: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=320,
            description="Exact email (any case); needs customers:read_pii, audited as customer.pii_lookup",
        ),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=40,
            description="Exact phone number; needs customers:read_pii, audited as customer.pii_lookup",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_TEXT,
            description="Search: an email or a phone (exact, via the vault's blind index; needs "
            "customers:read_pii, audited), otherwise part of the customer id",
        ),
    ] = None,
    channel: Text = None,
    country: Text = None,
    region: Text = None,
    city: Text = None,
    first_order_from: Day = None,
    first_order_to: Day = None,
    last_order_from: Day = None,
    last_order_to: Day = None,
    min_orders: Count = None,
    max_orders: Count = None,
    min_spend: Amount = None,
    max_spend: Amount = None,
    sort: Annotated[SortKey, Query(description="Column to sort by")] = "last_seen",
    order: Annotated[Literal["asc", "desc"], Query(description="Sort direction")] = "desc",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    reveal: RevealQuery = False,
    format: Annotated[
        Literal["csv", "xlsx"] | None,
        Query(description="Download every matching customer as CSV (UTF-8 with BOM) or .xlsx; audited"),
    ] = None,
) -> CustomerPage | Response:
    require(ctx, "customers:read")
    query = CustomerQuery(
        q,
        email,
        phone,
        channel,
        country,
        region,
        city,
        first_order_from,
        first_order_to,
        last_order_from,
        last_order_to,
        min_orders,
        max_orders,
        min_spend,
        max_spend,
        sort,
        order,
    )
    if query.pii_search:
        # Whether an address belongs to a customer is personal data: not for every role that sees lists.
        require(ctx, "customers:read_pii")
    if reveal:
        require(ctx, "customers:read_pii")
        require_step_up(ctx, "customer.pii_read")
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: service.export_customers(state, ctx.tenant, query, fmt, reveal=reveal, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    return await run_in_threadpool(
        lambda: service.find_customers(
            state, ctx.tenant, query=query, limit=limit, offset=offset, reveal=reveal, via=ctx.via
        )
    )


@router.get("/{customer_id}", response_model=CustomerProfile, summary="A customer's profile")
async def get_customer(
    ctx: TenantDep,
    state: StateDep,
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
    reveal: RevealQuery = False,
) -> CustomerProfile:
    require(ctx, "customers:read")
    if reveal:
        require(ctx, "customers:read_pii")
        require_step_up(ctx, "customer.pii_read")
    return await run_in_threadpool(
        lambda: service.find_customer(state, ctx.tenant, customer_id, reveal=reveal, via=ctx.via)
    )


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


@router.get(
    "/{customer_id}/consents",
    response_model=CustomerConsents,
    summary="A customer's current consents, their full history and marketing eligibility",
)
async def get_consents(customer_id: CustomerId, ctx: TenantDep, state: StateDep) -> CustomerConsents:
    require(ctx, "customers:read")
    return await run_in_threadpool(service.customer_consents, state, ctx.tenant, customer_id)


@router.post(
    "/{customer_id}/consents",
    response_model=ConsentView,
    status_code=201,
    summary="Record a grant or a withdrawal for one purpose (appended to the history)",
)
async def post_consent(
    customer_id: CustomerId, body: ConsentIn, ctx: TenantDep, state: StateDep
) -> ConsentView:
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
    return ConsentView.model_validate(record, from_attributes=True)
