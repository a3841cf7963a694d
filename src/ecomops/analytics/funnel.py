"""The conversion funnel of a window of local days, from the event stream.

Steps, each counted in distinct visitors (``anonymous_id``, else ``user_id`` — the same visitor as the
catalogue's ``visitors`` metric):

1. **visitors** — a ``page`` or ``screen`` event;
2. **product views** — a ``Product Viewed`` track event;
3. **add to cart** — ``Product Added``;
4. **checkout** — ``Checkout Started``;
5. **orders** — ``Order Completed``.

The funnel is *nested*: a visitor counts at a step only if they also reached every earlier step within
the window (the order of events inside the window is not checked). So the steps never grow, and a
server-side ``Order Completed`` without a visit in the window is not a converted visitor — the same
way 生意参谋 and Shopify count a session funnel. Step counts therefore differ from the ``buyers``
metric (which counts orders, not events) on purpose; the page says which is which.

From the funnel rollup (``rollup_funnel``: one row per visitor and UTC hour with the steps reached) when
it can answer, else one Ibis query over the raw events: one row per visitor with a flag per step, then
sums of the running AND of the flags. Both are checked against pandas on the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import duckdb
import ibis
from pydantic import Field

from ecomops.analytics import rollups
from ecomops.analytics.catalogue import (
    ADD_TO_CART_EVENT,
    CHECKOUT_EVENT,
    ORDER_EVENT,
    PRODUCT_VIEWED_EVENT,
    VISIT_EVENT_TYPES,
)
from ecomops.analytics.engine import DEFAULT_DAYS
from ecomops.analytics.periods import Bucket, Granularity, check_day, local_midnight, validate_window
from ecomops.kernel.clock import utcnow, validate_timezone
from ecomops.platform.context import TenantInfo

#: (step id, track event name or None for a page/screen visit), in funnel order.
STEPS: tuple[tuple[str, str | None], ...] = (
    ("visitors", None),
    ("product_views", PRODUCT_VIEWED_EVENT),
    ("add_to_cart", ADD_TO_CART_EVENT),
    ("checkout", CHECKOUT_EVENT),
    ("orders", ORDER_EVENT),
)


@dataclass(frozen=True)
class FunnelStep:
    id: Annotated[str, Field(description="visitors, product_views, add_to_cart, checkout or orders")]
    visitors: Annotated[
        int, Field(description="Distinct visitors who reached this step and every earlier one")
    ]
    #: None for the first step, or when the previous step had no visitors.
    step_rate: Annotated[float | None, Field(description="Share of the previous step's visitors")]
    #: None when there were no visitors.
    overall_rate: Annotated[float | None, Field(description="Share of all visitors")]


@dataclass(frozen=True)
class Funnel:
    """The funnel of a window (``GET …/funnel``, ``ecomops funnel``, the overview's funnel panel)."""

    first: Annotated[date, Field(alias="from")]
    last: Annotated[date, Field(alias="to")]
    timezone: str
    #: False when the tenant has no page/screen events in the window at all (imports only).
    available: Annotated[bool, Field(description="False when the window has no page or screen events")]
    steps: tuple[FunnelStep, ...]


def counts(con: Any, first: date, last: date, timezone: str, source: str = "auto") -> dict[str, int]:
    """Visitors reaching each step (nested) over local days [first, last] in ``timezone``.

    ``source`` "auto" reads the funnel rollup (one row per visitor and hour) when the rollups are
    current and the window is whole UTC hours, else the raw events; "facts" forces the raw events."""
    check_day(first, "from")
    check_day(last, "to")
    validate_window(first, last, Granularity.day)
    zone = ZoneInfo(timezone)
    start, end = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
    window = Bucket("window", start, end, first, last + timedelta(days=1))
    if source != "facts" and rollups.hour_aligned([window]) and rollups.is_current(con):
        try:
            row = con.execute(rollups.FUNNEL_SQL, {"lo": start, "hi": end}).fetchone()
            return {step: int(row[i] or 0) if row else 0 for i, (step, _) in enumerate(STEPS)}
        except duckdb.CatalogException:  # a file opened read-only before migration 0006: raw events
            pass
    backend = ibis.duckdb.from_connection(con)
    e = backend.table("events")
    events = e.filter(e.ts >= start, e.ts < end).mutate(visitor=ibis.coalesce(e.anonymous_id, e.user_id))
    events = events.filter(events.visitor.notnull())
    flags = {}
    for step, name in STEPS:
        cond = (
            events.type.isin(VISIT_EVENT_TYPES)
            if name is None
            else ((events.type == "track") & (events.event == name))
        )
        flags[step] = ibis.ifelse(cond, 1, 0).max()
    per_visitor = events.group_by("visitor").aggregate(**flags)
    reached = {}
    running = None
    for step, _ in STEPS:
        flag = per_visitor[step] == 1
        running = flag if running is None else running & flag
        reached[step] = ibis.ifelse(running, 1, 0).sum()
    row = per_visitor.aggregate(**reached).to_pyarrow().to_pylist()[0]
    return {step: int(row[step] or 0) for step, _ in STEPS}


def compute(con: Any, first: date, last: date, timezone: str) -> Funnel:
    """The funnel with step-to-step and overall conversion rates."""
    reached = counts(con, first, last, timezone)
    top = reached[STEPS[0][0]]
    steps = []
    previous: int | None = None
    for step, _ in STEPS:
        n = reached[step]
        steps.append(
            FunnelStep(
                step,
                n,
                None if not previous else n / previous,
                n / top if top else None,
            )
        )
        previous = n
    return Funnel(first, last, timezone, top > 0, tuple(steps))


def window(
    tenant: TenantInfo, first: date | None, last: date | None, timezone: str | None
) -> tuple[date, date, str]:
    """Defaults like the metrics API: the 30 local days ending today (or after ``from``)."""
    zone_name = validate_timezone(timezone) if timezone else tenant.timezone
    today = utcnow().astimezone(ZoneInfo(zone_name)).date()
    last = last or (first + timedelta(days=DEFAULT_DAYS - 1) if first else today)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    return first, last, zone_name
