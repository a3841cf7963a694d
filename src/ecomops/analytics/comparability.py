"""Whether a change against an earlier period means anything, and why not when it does not.

A percentage against a period that holds almost no data is arithmetic, not news: the 12 months before a
shop's first year hold a few days of imported orders, so GMV shows ▲792 %. Commerce dashboards commonly
print "--" when the comparison period has no data, and data checks (Elementary's ``volume_threshold``) skip
a change whose baseline is below a minimum count; we do both, add a coverage rule, and say which rule
applied, so the console can print the reason instead of a number. A comparison of a metric's window total
is *not comparable* when, in order:

1. ``no_base`` — the comparison value is missing or zero (there is nothing to divide by);
2. ``sparse_period`` — the comparison period has the metric's facts (orders, refunds, visits, ad spend) on
   fewer than half as many local days as the current window (3 of 365 days against 365). Measured against
   the current window, not the calendar, so a shop that only sells at weekends still compares weekends;
3. ``small_base`` — a count the metric rests on (its orders, buyers or visitors) is below
   :data:`MIN_BASE_COUNT` in the comparison period: from 4 orders to 9 is +125 % and tells nothing.

The change itself is still computed when only rules 2 or 3 apply, so a client that wants the raw
arithmetic keeps it; ``comparable`` says whether to show it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ecomops.analytics.catalogue import BASE_MEASURES, Family, Metric
from ecomops.analytics.periods import Bucket, local_midnight
from ecomops.analytics.results import Comparison, Coverage

#: The comparison period needs facts on at least this share of the days the current window has them.
MIN_COVERAGE = 0.5
#: Fewest orders (buyers, visitors) a comparison period must hold for a relative change to be shown.
MIN_BASE_COUNT = 10
#: Counts a metric's reliability rests on, when the metric uses them.
SUPPORT_MEASURES: tuple[str, ...] = ("order_count", "buyer_count", "visitor_count", "cart_visitor_count")
#: Where each family's facts live, for counting the days that have any: (table, UTC timestamp column).
FACT_TIMES: dict[Family, tuple[str, str]] = {
    Family.sales: ("orders", "ordered_at"),
    Family.refunds: ("refunds", "refunded_at"),
    Family.traffic: ("events", "ts"),
}
PERIOD_NAMES = {"previous_period": "the previous period", "last_year": "the same period last year"}
#: What a family's facts or a support count are, in the reasons' words.
BASIS_WORDS = {
    "sales": "orders",
    "refunds": "refunds",
    "traffic": "visits",
    "spend": "ad spend",
    "order_count": "orders",
    "buyer_count": "buyers",
    "visitor_count": "visitors",
    "cart_visitor_count": "visitors who added to cart",
}


def family_of(measure: str) -> Family:
    """Order lines (and their units) are orders' facts: they share the orders' days."""
    family = BASE_MEASURES[measure].family
    return Family.sales if family in (Family.lines, Family.units) else family


def families(metric: Metric) -> list[Family]:
    return list(dict.fromkeys(family_of(m) for m in metric.measures))


def support_measures(metric: Metric) -> list[str]:
    """The counts a metric's change rests on: its own, else the orders behind its sales measures."""
    own = [m for m in metric.measures if m in SUPPORT_MEASURES]
    if own:
        return own
    return ["order_count"] if Family.sales in families(metric) else []


def relative_change(current: Any, base: Any) -> float | None:
    """(current − base) / |base|; None without a base. Exact for Decimal money and int counts."""
    if current is None or base is None or base == 0:
        return None
    if isinstance(current, float) or isinstance(base, float):
        return (float(current) - float(base)) / abs(float(base))
    return float((Decimal(current) - Decimal(base)) / abs(Decimal(base)))


def _midnights(first: date, end: date, zone: ZoneInfo) -> list[tuple[date, float]]:
    """(local day, its local midnight as a UTC epoch second) for days [first, end]: the day boundaries."""
    return [
        (first + timedelta(days=i), local_midnight(first + timedelta(days=i), zone).timestamp())
        for i in range((end - first).days + 1)
    ]


def _days_with(starts: list[float], bounds: list[tuple[date, float]], bucket: Bucket) -> int:
    """Local days of ``bucket`` holding at least one of the sorted UTC hour ``starts`` (epoch seconds).
    A bisection per day: a year of days against thousands of hours costs microseconds, where turning
    every hour into a local date through zoneinfo cost tens of milliseconds."""
    n = 0
    for (day, start), (_, end) in itertools.pairwise(bounds):
        if bucket.first_day <= day < bucket.end_day:
            i = bisect.bisect_left(starts, start)
            n += i < len(starts) and starts[i] < end
    return n


def _spans(periods: Mapping[str, Bucket]) -> list[Bucket]:
    """The periods merged where they touch or overlap (the window and the one before it are one span; last
    year's is apart unless the window is a year long), so no fact between them is read."""
    merged: list[Bucket] = []
    for b in sorted(periods.values(), key=lambda b: b.start):
        if merged and b.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Bucket(
                "", last.start, max(last.end, b.end), last.first_day, max(last.end_day, b.end_day)
            )
        else:
            merged.append(b)
    return merged


def coverage(con: Any, periods: Mapping[str, Bucket], timezone: str) -> dict[str, Coverage]:
    """Per period, its length and the local days that hold each family's facts.

    One query per fact table over the periods' spans, returning distinct UTC hours (a year is at most
    8 784 rows); hours become local days here with zoneinfo, never the database's time-zone data.
    """
    zone = ZoneInfo(timezone)
    spans = _spans(periods)
    bounds = _midnights(spans[0].first_day, spans[-1].end_day, zone)
    found: dict[str, dict[str, int]] = {name: {} for name in periods}
    for family, (table, column) in FACT_TIMES.items():
        where = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in spans)
        rows = con.execute(
            f"SELECT DISTINCT epoch_ms({column}) // 3600000 FROM {table} WHERE {where}",  # noqa: S608 (constants)
            [t for span in spans for t in (span.start, span.end)],
        ).fetchall()
        starts = sorted(float(h) * 3600 for (h,) in rows)
        for name, bucket in periods.items():
            found[name][family.value] = _days_with(starts, bounds, bucket)
    where = " OR ".join("(date >= ? AND date < ?)" for _ in spans)
    spend_days = {
        d
        for (d,) in con.execute(
            f"SELECT DISTINCT date FROM ad_spend WHERE {where}",  # noqa: S608 (placeholders)
            [d for span in spans for d in (span.first_day, span.end_day)],
        ).fetchall()
    }
    for name, bucket in periods.items():
        found[name][Family.spend.value] = sum(1 for d in spend_days if bucket.first_day <= d < bucket.end_day)
    return {
        name: Coverage((bucket.end_day - bucket.first_day).days, found[name])
        for name, bucket in periods.items()
    }


def assess(
    metric: Metric,
    current: Any,
    base: Any,
    base_measures: Mapping[str, Any],
    period: str,
    cover: Mapping[str, Coverage] | None,
) -> Comparison:
    """Apply the rules (module docstring) to one metric's window total against ``period``."""
    change = relative_change(current, base)
    name = PERIOD_NAMES[period]
    if change is None:
        return Comparison(None, False, "no_base", f"{name} has no {metric.id} to compare with")
    if cover is not None:
        for family in families(metric):
            now = cover["current"].days_with_data[family.value]
            then = cover[period].days_with_data[family.value]
            if now and then < MIN_COVERAGE * now:
                return Comparison(
                    change,
                    False,
                    "sparse_period",
                    f"{name} has {BASIS_WORDS[family.value]} on only {then} of {cover[period].days} days "
                    f"(this period on {now})",
                    {"days_with_data": then, "days": cover[period].days, "current_days_with_data": now},
                    family.value,
                )
    for measure in support_measures(metric):
        count = base_measures.get(measure)
        if count is not None and int(count) < MIN_BASE_COUNT:
            return Comparison(
                change,
                False,
                "small_base",
                f"{name} has only {int(count)} {BASIS_WORDS[measure]} "
                f"(fewer than {MIN_BASE_COUNT}): too few for a percentage",
                {"base": int(count), "min_base": MIN_BASE_COUNT},
                measure,
            )
    return Comparison(change, True)
