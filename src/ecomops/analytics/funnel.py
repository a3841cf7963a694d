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

One Ibis query: filter the window's events, one row per visitor with a flag per step, then sums of the
running AND of the flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from ecomops.analytics.catalogue import ADD_TO_CART_EVENT, VISIT_EVENT_TYPES
from ecomops.analytics.periods import Granularity, check_day, local_midnight, validate_window

#: (step id, track event name or None for a page/screen visit), in funnel order.
STEPS: tuple[tuple[str, str | None], ...] = (
    ("visitors", None),
    ("product_views", "Product Viewed"),
    ("add_to_cart", ADD_TO_CART_EVENT),
    ("checkout", "Checkout Started"),
    ("orders", "Order Completed"),
)


@dataclass(frozen=True)
class FunnelStep:
    id: str
    visitors: int
    #: Share of the previous step's visitors who reached this step (None for the first step or 0 before).
    step_rate: float | None
    #: Share of all visitors who reached this step (None when there were no visitors).
    overall_rate: float | None


@dataclass(frozen=True)
class Funnel:
    first: date
    last: date
    timezone: str
    #: False when the tenant has no page/screen events in the window at all (imports only).
    available: bool
    steps: list[FunnelStep]

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "timezone": self.timezone,
            "available": self.available,
            "steps": [s.__dict__ for s in self.steps],
        }


def counts(con: Any, first: date, last: date, timezone: str) -> dict[str, int]:
    """Visitors reaching each step (nested) over local days [first, last] in ``timezone``."""
    check_day(first, "from")
    check_day(last, "to")
    validate_window(first, last, Granularity.day)
    zone = ZoneInfo(timezone)
    start, end = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
    backend = ibis.duckdb.from_connection(con)
    e = backend.table("events")
    window = e.filter(e.ts >= start, e.ts < end).mutate(visitor=ibis.coalesce(e.anonymous_id, e.user_id))
    window = window.filter(window.visitor.notnull())
    flags = {}
    for step, name in STEPS:
        cond = (
            window.type.isin(VISIT_EVENT_TYPES)
            if name is None
            else ((window.type == "track") & (window.event == name))
        )
        flags[step] = ibis.ifelse(cond, 1, 0).max()
    per_visitor = window.group_by("visitor").aggregate(**flags)
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
    return Funnel(first, last, timezone, top > 0, steps)
