"""What demo shop a tenant already holds, and whether ``make demo`` must seed again.

A second ``make demo`` should start in seconds: seeding the default shop takes half a minute to minutes.
So ``demo seed --if-missing`` asks the warehouse what the simulator already wrote (seeded history and
the live feed's events, all ``sim_``-prefixed) and seeds only when there is no shop, when it has another
number of customers, or when the gap since its last simulated event is too long for the live feed's
catch-up (``MAX_CATCH_UP_DAYS``); a shorter gap is filled by ``demo trickle``, which sends the missing
minutes through the ingest API before it goes live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import duckdb

from ecomops.kernel.clock import utcnow
from ecomops.kernel.jsonutil import IsoDateTime
from ecomops.platform.context import TenantInfo
from ecomops.platform.web.state import AppState
from ecomops.simulate.params import ID_PREFIX, SeedParams

#: Days of missing traffic the live feed sends on start (≈10,000 messages a day for the default shop);
#: a longer gap is re-seeded instead.
MAX_CATCH_UP_DAYS = 7
#: Days the shop's recent event rate is averaged over.
RATE_DAYS = 7


@dataclass(frozen=True)
class Coverage:
    """The simulator's rows in a tenant's warehouse, as of ``as_of``."""

    tenant: str
    as_of: IsoDateTime
    products: int
    customers: int
    #: Time of the latest simulated event up to ``as_of`` (seeded history or live feed); None: none.
    last_event_at: IsoDateTime | None
    #: Its local date in the tenant's time zone.
    last_event_day: date | None
    #: Simulated events per day over the 7 whole local days up to ``last_event_day`` (before today): the
    #: live feed's default rate, so today and caught-up days look like the shop's history.
    events_per_day: float


@dataclass(frozen=True)
class SeedDecision:
    action: Literal["seed", "reuse"]
    reason: str
    #: Local days after the shop's last simulated event up to the requested end date (the catch-up).
    missing_days: int


def coverage(state: AppState, tenant: TenantInfo, now: datetime | None = None) -> Coverage:
    """The "what demo shop is there" use case (API and CLI), on a private cursor of the warehouse."""
    cur = state.warehouses.get(tenant.id).cursor()
    try:
        return read_coverage(cur, tenant, now or utcnow())
    finally:
        cur.close()


def read_coverage(cur: duckdb.DuckDBPyConnection, tenant: TenantInfo, now: datetime) -> Coverage:
    prefix = ID_PREFIX
    products = cur.execute(
        "SELECT count(*) FROM products WHERE starts_with(product_id, ?)", [prefix]
    ).fetchone()
    customers = cur.execute(
        "SELECT count(*) FROM customers WHERE starts_with(customer_id, ?)", [prefix]
    ).fetchone()
    last = cur.execute(
        "SELECT max(ts) FROM events WHERE starts_with(message_id, ?) AND ts <= ?", [prefix, now]
    ).fetchone()
    last_at = last[0] if last else None
    zone = ZoneInfo(tenant.timezone)
    per_day = 0.0
    if last_at is not None:
        # Whole days only: today's are not over yet.
        end_day = min(last_at.astimezone(zone).date() + timedelta(days=1), now.astimezone(zone).date())
        start = datetime.combine(end_day - timedelta(days=RATE_DAYS), time.min, zone)
        end = datetime.combine(end_day, time.min, zone)
        counted = cur.execute(
            "SELECT count(*) FROM events WHERE starts_with(message_id, ?) AND ts >= ? AND ts < ?",
            [prefix, start, end],
        ).fetchone()
        per_day = (int(counted[0]) if counted else 0) / RATE_DAYS
    return Coverage(
        tenant=tenant.slug,
        as_of=now.astimezone(zone),
        products=int(products[0]) if products else 0,
        customers=int(customers[0]) if customers else 0,
        last_event_at=None if last_at is None else last_at.astimezone(zone),
        last_event_day=None if last_at is None else last_at.astimezone(zone).date(),
        events_per_day=round(per_day, 1),
    )


def decide(cov: Coverage, params: SeedParams) -> SeedDecision:
    """Seed or reuse, for ``demo seed --if-missing`` (pure: the same answer on every path)."""
    if cov.products == 0 or cov.last_event_day is None:
        return SeedDecision("seed", "the tenant has no demo shop yet", params.days)
    if cov.customers != params.customers:
        reason = f"the demo shop has {cov.customers:,} customers, {params.customers:,} were asked for"
        return SeedDecision("seed", reason, params.days)
    missing = max(0, (params.end_date - cov.last_event_day).days)
    if missing > MAX_CATCH_UP_DAYS:
        reason = (
            f"the demo shop ends on {cov.last_event_day}, {missing} days before {params.end_date}: "
            f"more than the live feed catches up ({MAX_CATCH_UP_DAYS} days)"
        )
        return SeedDecision("seed", reason, missing)
    if missing == 0:
        return SeedDecision("reuse", f"the demo shop already runs up to {cov.last_event_day}", 0)
    since = cov.last_event_day + timedelta(days=1)
    reason = (
        f"the demo shop runs up to {cov.last_event_day}; `ecomops demo trickle` sends the {missing} "
        f"missing day(s) from {since} through the ingest API when it starts"
    )
    return SeedDecision("reuse", reason, missing)
