"""The KPI engine: validate a metrics request, get base measures from a source, combine them.

One request asks for metric ids over a window of local days at a granularity, optionally broken
down by one dimension. Every bucket also gets its period-over-period value (环比: the bucket right
before it) and its same-period-last-year value (同比), and the window gets totals for itself, the
same number of buckets right before it and the same dates one year earlier. Totals are computed
from the facts over the whole window, not summed from buckets: distinct counts (buyers, visitors)
do not add up across days.

All of this is asked of the source in one pass: buckets may overlap (a window total overlaps its
days), since facts are assigned to buckets by a range join.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import ibis

from ecomops.analytics import comparability, conversion, rollup_days, rollups
from ecomops.analytics.catalogue import (
    BASE_MEASURES,
    METRICS_BY_ID,
    Breakdown,
    Metric,
    Unit,
    parse_breakdown,
    parse_ids,
)
from ecomops.analytics.periods import (
    Bucket,
    Granularity,
    buckets,
    check_day,
    last_year_bucket,
    previous_bucket,
    snap,
    span,
    validate_window,
)
from ecomops.analytics.results import (
    BreakdownShown,
    Comparison,
    Coverage,
    MetricInfo,
    MetricsResult,
    MetricValue,
    MetricValues,
    Period,
    Periods,
    SeriesRow,
    TotalRow,
)
from ecomops.analytics.sources import Cells, FactsSource, MeasureSource
from ecomops.kernel.clock import utcnow, validate_timezone
from ecomops.kernel.errors import EcomopsError, ValidationFailed
from ecomops.kernel.money import MONEY_QUANT, normalize_currency
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.connection import Warehouse

DEFAULT_DAYS = 30
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
#: Most buckets × breakdown values in one answer.
MAX_CELLS = 50_000
#: Warehouse work one request may take before it is cancelled.
TIMEOUT_SECONDS = 120.0

CURRENT, PREVIOUS, LAST_YEAR = "total:current", "total:previous_period", "total:last_year"
#: Where base measures come from: rollups when they can answer (else the facts), or forced.
SOURCES = ("auto", "rollups", "facts")


@dataclass(frozen=True)
class MetricsQuery:
    """A metrics request as the API and the CLI take it (strings are validated by :func:`check`)."""

    ids: Sequence[str] | str
    first: date | None = None
    last: date | None = None
    granularity: str = "day"
    breakdown: str | None = None
    compare: bool = True
    limit: int = DEFAULT_LIMIT
    currency: str | None = None
    timezone: str | None = None
    #: "auto" (rollups when they can answer), "rollups" or "facts" (see compute_on_connection).
    source: str = "auto"

    def params(self) -> dict[str, str | int | bool | date | None]:
        """The query string of ``GET /api/v1/t/{tenant}/metrics`` asking for this request."""
        return {
            "ids": self.ids if isinstance(self.ids, str) else ",".join(self.ids),
            "from": self.first,
            "to": self.last,
            "granularity": self.granularity,
            "breakdown": self.breakdown,
            "compare": self.compare,
            "limit": self.limit,
            "currency": self.currency,
            "timezone": self.timezone,
            "source": self.source,
        }


@dataclass(frozen=True)
class Resolved:
    metrics: list[Metric]
    first: date
    last: date
    granularity: Granularity
    breakdown: Breakdown | None
    compare: bool
    limit: int
    currency: str
    timezone: str
    #: The instant the request is answered at (UTC): a window that contains it is compared to date.
    now: datetime


@dataclass(frozen=True)
class _Checked:
    metrics: list[Metric]
    breakdown: Breakdown | None
    granularity: Granularity


def check(query: MetricsQuery) -> _Checked:
    """Every check that needs no tenant (ids, breakdown, granularity, limit, source, zone, currency,
    days); errors name the parameter (422). The CLI runs it before choosing a path, so a bad request
    fails with these messages whether a server would have answered it or this process."""
    metrics = [
        METRICS_BY_ID[i] for i in parse_ids(list(query.ids) if not isinstance(query.ids, str) else query.ids)
    ]
    breakdown = parse_breakdown(query.breakdown)
    try:
        granularity = Granularity(query.granularity)
    except ValueError:
        raise ValidationFailed(
            f"granularity: unknown granularity {query.granularity!r}; known: "
            f"{', '.join(g.value for g in Granularity)}",
            {"field": "granularity", "unknown": query.granularity},
        ) from None
    if not 1 <= query.limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}, got {query.limit}", {"field": "limit"}
        )
    if query.source not in SOURCES:
        raise ValidationFailed(
            f"source: unknown source {query.source!r}; known: {', '.join(SOURCES)}",
            {"field": "source", "unknown": query.source},
        )
    if query.timezone:
        validate_timezone(query.timezone)
    if query.currency:
        normalize_currency(query.currency)
    check_day(query.first, "from")
    check_day(query.last, "to")
    return _Checked(metrics, breakdown, granularity)


def resolve(
    query: MetricsQuery, tenant: TenantInfo, today: date | None = None, now: datetime | None = None
) -> Resolved:
    """Check every parameter and fill defaults from the tenant; errors name the parameter (422)."""
    checked = check(query)
    granularity = checked.granularity
    timezone = query.timezone or tenant.timezone
    currency = normalize_currency(query.currency) if query.currency else tenant.currency
    zone = ZoneInfo(timezone)
    now = now or utcnow()
    if today is None:
        today = now.astimezone(zone).date()
    last = query.last or (query.first + timedelta(days=DEFAULT_DAYS - 1) if query.first else today)
    first = query.first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        validate_window(first, last, granularity)
    first, last = snap(first, last, granularity)
    validate_window(first, last, granularity)
    return Resolved(
        checked.metrics,
        first,
        last,
        granularity,
        checked.breakdown,
        query.compare,
        query.limit,
        currency,
        timezone,
        now,
    )


@dataclass
class _Plan:
    current: list[Bucket]
    before_first: Bucket
    last_year: list[Bucket]
    totals: list[Bucket]

    def all(self, compare: bool) -> list[Bucket]:
        if not compare:
            return [*self.current, self.totals[0]]
        return [self.before_first, *self.current, *self.last_year, *self.totals]


def _plan(r: Resolved) -> _Plan:
    zone = ZoneInfo(r.timezone)
    current = buckets(r.first, r.last, r.granularity, zone)
    before_first = previous_bucket(current[0], r.granularity, zone)
    last_year = []
    for b in current:
        shifted = last_year_bucket(b, r.granularity, zone)
        last_year.append(
            Bucket("ly:" + b.label, shifted.start, shifted.end, shifted.first_day, shifted.end_day)
        )
    earliest = current[0]
    for _ in current:
        earliest = previous_bucket(earliest, r.granularity, zone)
    whole = span(CURRENT, current[0], current[-1])
    elapsed = _elapsed(whole, r.now)
    totals = [
        _to_date(whole, elapsed),
        _to_date(span(PREVIOUS, earliest, before_first), elapsed),
        _to_date(span(LAST_YEAR, last_year[0], last_year[-1]), elapsed),
    ]
    return _Plan(current, before_first, last_year, totals)


def _elapsed(window: Bucket, now: datetime) -> timedelta | None:
    """How much of a window that is under way has passed, up to the end of the current UTC hour (rollups
    keep whole hours); None for a window that is over or not begun. Comparing this morning with the whole
    of yesterday showed every figure down ~90 % (Shopify compares "up to the current time" the same way)."""
    if not window.start < now < window.end:
        return None
    hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return min(hour, window.end) - window.start


def _to_date(period: Bucket, elapsed: timedelta | None) -> Bucket:
    """A total's first ``elapsed``: the window's own total and its comparisons cover the same hours."""
    if elapsed is None:
        return period
    end = period.start + elapsed
    return Bucket(period.label, period.start, end, period.first_day, period.end_day)


def _typed(value: Decimal | int | None, unit: Unit) -> MetricValue:
    """A cell's value: money as a Decimal with 4 places (exact), counts as int, ratios as float."""
    if value is None:
        return None
    if unit is Unit.money:
        return Decimal(value).quantize(MONEY_QUANT, rounding=ROUND_HALF_EVEN)
    if unit is Unit.count:
        return int(value)
    return float(value)


def _zero(measure: str) -> Decimal | int:
    return Decimal("0.0000") if BASE_MEASURES[measure].unit is Unit.money else 0


def compute(
    source: MeasureSource,
    tenant: TenantInfo,
    r: Resolved,
    days_with_data: Callable[[dict[str, Bucket]], dict[str, Coverage]] | None = None,
) -> MetricsResult:
    """Run a resolved request against ``source`` (the answer's ``source`` is named by the caller).
    ``days_with_data`` counts the days with facts in each compared period (``comparability.coverage``
    on the caller's connection); without it, comparisons are judged on their bases alone."""
    # The counts a change rests on are computed too (order_count rides along with the sales measures).
    needed = list(
        dict.fromkeys(
            m
            for metric in r.metrics
            for m in (*metric.measures, *(comparability.support_measures(metric) if r.compare else ()))
        )
    )
    reasons = {m: source.unavailable(m, r.breakdown, r.granularity, r.currency) for m in needed}
    metric_reason = {
        metric.id: next((reasons[m] for m in metric.measures if reasons[m] is not None), None)
        for metric in r.metrics
    }
    plan = _plan(r)
    zone = ZoneInfo(r.timezone)
    bucket_list = plan.all(r.compare)
    cur, prev, ly = plan.totals
    cover: dict[str, Coverage] = {}
    if r.compare and days_with_data is not None:
        cover = days_with_data({"current": cur, "previous_period": prev, "last_year": ly})
    families = list(dict.fromkeys(BASE_MEASURES[m].family for m in needed if reasons[m] is None))
    cells: Cells = {}
    for family in families:
        wanted = [m for m in needed if BASE_MEASURES[m].family is family]
        for key, values in source.compute(family, bucket_list, r.breakdown, r.currency, wanted).items():
            cells.setdefault(key, {}).update(values)

    def values_of(label: str, dim: str | None) -> dict[str, Decimal | int | None]:
        cell = cells.get((label, dim), {})
        return {m: (None if reasons[m] is not None else cell.get(m, _zero(m))) for m in needed}

    def metric_values(label: str, dim: str | None) -> MetricValues:
        base = values_of(label, dim)
        return {
            metric.id: None if metric_reason[metric.id] else _typed(metric.compute(base), metric.unit)
            for metric in r.metrics
        }

    dims: list[str | None] = [None]
    breakdown_info = None
    if r.breakdown is not None:
        seen = sorted({dim for (label, dim) in cells if label == CURRENT and dim is not None})
        lead = r.metrics[0]

        def rank(dim: str) -> tuple[int, Decimal, str]:
            value = lead.compute(values_of(CURRENT, dim))
            return (0, -Decimal(value), dim) if value is not None else (1, Decimal(0), dim)

        ordered = sorted(seen, key=rank)
        dims = list(ordered[: r.limit])
        breakdown_info = BreakdownShown(r.breakdown.id, len(ordered), len(dims))
        if len(plan.current) * max(len(dims), 1) > MAX_CELLS:
            raise ValidationFailed(
                f"{len(plan.current)} buckets × {len(dims)} {r.breakdown.id} values is more than "
                f"{MAX_CELLS} cells; use a coarser granularity, a shorter window or a lower limit",
                {"field": "limit", "cells": len(plan.current) * len(dims), "max_cells": MAX_CELLS},
            )

    series = []
    previous_labels = [plan.before_first.label] + [b.label for b in plan.current[:-1]]
    for b, prev_label in zip(plan.current, previous_labels, strict=True):
        for dim in dims:
            series.append(
                SeriesRow(
                    b.label,
                    b.start,
                    b.end,
                    dim,
                    metric_values(b.label, dim),
                    metric_values(prev_label, dim) if r.compare else None,
                    metric_values("ly:" + b.label, dim) if r.compare else None,
                )
            )

    def comparisons(dim: str | None, label: str, period: str) -> dict[str, Comparison]:
        now, base, measures = metric_values(CURRENT, dim), metric_values(label, dim), values_of(label, dim)
        return {
            m.id: comparability.assess(m, now[m.id], base[m.id], measures, period, cover or None)
            for m in r.metrics
        }

    totals = [
        TotalRow(
            dim,
            metric_values(CURRENT, dim),
            metric_values(PREVIOUS, dim) if r.compare else None,
            metric_values(LAST_YEAR, dim) if r.compare else None,
            comparisons(dim, PREVIOUS, "previous_period") if r.compare else None,
            comparisons(dim, LAST_YEAR, "last_year") if r.compare else None,
        )
        for dim in dims
    ]

    return MetricsResult(
        tenant=tenant.slug,
        currency=r.currency,
        timezone=r.timezone,
        granularity=r.granularity.value,
        first=r.first,
        last=r.last,
        breakdown=breakdown_info,
        periods=Periods(
            _period(cur, zone, cover.get("current")),
            _period(prev, zone, cover.get("previous_period")) if r.compare else None,
            _period(ly, zone, cover.get("last_year")) if r.compare else None,
        ),
        metrics=tuple(
            MetricInfo(
                m.id,
                m.name_en,
                m.name_zh,
                m.unit.value,
                m.formula,
                metric_reason[m.id] is None,
                metric_reason[m.id],
            )
            for m in r.metrics
        ),
        other_currencies=source.other_currencies(cur, r.currency),
        series=tuple(series),
        totals=tuple(totals),
        converted_currencies=source.converted_currencies(cur, r.currency),
    )


def _period(b: Bucket, zone: ZoneInfo, cover: Coverage | None = None) -> Period:
    """The period's local days read from its instants: an hourly span's ``end_day`` is its last hour's
    date, not the day after, so ``end_day - 1`` named the day before (Today showed "Dec 8 – Dec 7")."""
    last = (b.end - timedelta(microseconds=1)).astimezone(zone).date()
    return Period(b.start.astimezone(zone).date(), last, b.start, b.end, cover)


class MetricsTimeout(EcomopsError):
    """The request needed more than TIMEOUT_SECONDS of warehouse work (400, like a SQL query timeout)."""

    status_code = 400
    code = "metrics_timeout"


def compute_on_connection(
    con: Any,
    tenant: TenantInfo,
    resolved: Resolved,
    timeout_seconds: float = TIMEOUT_SECONDS,
    source_kind: str = "auto",
    fx: Sequence[conversion.RateSpan] = (),
) -> MetricsResult:
    """Metrics over one DuckDB connection or cursor: from the rollups when the request's buckets are
    whole UTC hours and the rollups are ready (plain SQL, no Ibis compile cost), else from the facts
    through an Ibis backend. ``source_kind`` "facts" forces the raw path (benchmarks, checks);
    "rollups" fails with 422 when the rollups cannot answer. The answer's ``source`` says which ran.
    ``fx``: rate spans into the reporting currency; the rollups keep currencies apart, so a request
    that converts is answered from the facts.

    A watchdog interrupts the connection after ``timeout_seconds`` so one oversized request (years of
    hours by product on a big shop) cannot hold a server thread and the warehouse indefinitely.
    """
    timed_out = threading.Event()
    source: MeasureSource | None = None
    if fx and source_kind == "rollups":
        raise ValidationFailed(
            "source: the rollups keep each currency apart and cannot convert with the tenant's FX rates; "
            "use source=auto or source=facts",
            {"field": "source"},
        )
    if source_kind != "facts" and not fx:
        source = rollups.source_for(
            con, _plan(resolved).all(resolved.compare), cancelled=timed_out, timezone=resolved.timezone
        )
        if source is None and source_kind == "rollups":
            raise ValidationFailed(
                "source: the rollups cannot answer this request (buckets not on whole UTC hours in "
                f"{resolved.timezone}, or rollups not built yet); use source=auto or source=facts",
                {"field": "source", "timezone": resolved.timezone},
            )
    if source is None:
        source = FactsSource(ibis.duckdb.from_connection(con), cancelled=timed_out, fx=fx)

    def _interrupt() -> None:
        timed_out.set()
        con.interrupt()

    watchdog = threading.Timer(timeout_seconds, _interrupt)
    watchdog.daemon = True
    watchdog.start()
    try:
        answer = compute(
            source, tenant, resolved, lambda periods: comparability.coverage(con, periods, resolved.timezone)
        )
        return replace(answer, source="rollups" if isinstance(source, rollups.RollupSource) else "facts")
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise MetricsTimeout(
                f"metrics cancelled after {timeout_seconds:g} s; ask for a shorter window, a coarser "
                "granularity, fewer metrics or no comparisons (compare=false)",
                {"timeout_seconds": timeout_seconds},
            ) from exc
        raise
    finally:
        watchdog.cancel()


def ensure_rollups(warehouse: Warehouse, tenant: TenantInfo) -> None:
    """Bring the rollups to where dashboards need them on first use: rebuilt when not ready (a
    migration added a rollup table, or a writer marked them stale and nothing was written since), and
    the day rollups kept in the tenant's zone. Seconds once on a large shop; refreshes keep them after."""
    cursor = warehouse.cursor()
    try:
        ready = rollups.is_ready(cursor)
        days_ok = rollup_days.zone_of(cursor) == tenant.timezone or not rollups.days_supported(
            tenant.timezone
        )
    finally:
        cursor.close()
    if ready and days_ok:
        return
    with warehouse.write() as cur:
        if not rollups.is_ready(cur):
            rollups.rebuild(cur)
        rollups.keep_days_in(cur, tenant.timezone)


def compute_for_warehouse(
    warehouse: Warehouse,
    tenant: TenantInfo,
    query: MetricsQuery,
    rates: Sequence[conversion.DatedRate] = (),
) -> MetricsResult:
    """Metrics from a warehouse this process has open (the server's, or a command's), on a private
    cursor. A file a command opened read-only is read as it is: its rollups cannot be maintained here,
    so the answer comes from them when they can give it, else from the raw facts.

    ``rates``: the tenant's FX table (into its currency). Reports in the tenant's currency convert
    facts in other currencies with them; a report in another currency (``currency=``) converts nothing.
    """
    resolved = resolve(query, tenant)  # validate before touching the warehouse
    fx = conversion.spans(rates, resolved.timezone) if resolved.currency == tenant.currency else ()
    if query.source != "facts" and not warehouse.read_only:
        ensure_rollups(warehouse, tenant)
    cursor = warehouse.cursor()
    try:
        return compute_on_connection(cursor, tenant, resolved, source_kind=query.source, fx=fx)
    finally:
        cursor.close()
