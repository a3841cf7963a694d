"""Typed answers of the analytics use cases: what the engine returns, the API serialises (as its
``response_model``), the CLI prints and the overview page reads, all the same objects.

Values keep their Python types (Decimal money, int counts, float ratios, dates, aware datetimes); the
JSON form is pydantic's serialisation of these classes, field for field the JSON the API answered when
it was built as dicts: money as Decimal strings with four places, ``from``/``to`` as ISO dates,
instants as ``datetime.isoformat()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from ecomops.kernel.jsonutil import IsoDateTime

#: A metric's value in one cell: money as a Decimal with 4 places (a string in JSON), a count as an
#: int, a ratio as a float; None when the metric is unavailable (see ``MetricInfo.reason``).
MetricValue = Decimal | int | float | None
MetricValues = dict[str, MetricValue]


@dataclass(frozen=True)
class MetricInfo:
    id: str
    name_en: str
    name_zh: str
    unit: Annotated[
        str, Field(description="money (Decimal string in `currency`), count (integer) or ratio (number)")
    ]
    formula: str
    available: bool
    reason: Annotated[str | None, Field(description="Why the metric is null everywhere in this answer")]


@dataclass(frozen=True)
class Coverage:
    """How much of a period holds data: what decides whether a comparison against it is meaningful."""

    days: Annotated[int, Field(description="Local days in the period")]
    days_with_data: Annotated[
        dict[str, int],
        Field(
            description="Local days with facts, per family: sales (orders), refunds, traffic (events), spend"
        ),
    ]


@dataclass(frozen=True)
class Period:
    first: Annotated[date, Field(alias="from", description="First local day")]
    last: Annotated[date, Field(alias="to", description="Last local day (inclusive)")]
    start: Annotated[IsoDateTime, Field(description="UTC instant the period starts")]
    end: Annotated[IsoDateTime, Field(description="UTC instant the period ends (exclusive)")]
    coverage: Annotated[Coverage | None, Field(description="Days with data (when comparing)")] = None


@dataclass(frozen=True)
class Periods:
    current: Period
    previous_period: Period | None
    last_year: Period | None


@dataclass(frozen=True)
class BreakdownShown:
    id: str
    values_total: Annotated[int, Field(description="Breakdown values with data in the window")]
    values_shown: Annotated[int, Field(description="Values returned: the top `limit` by the first metric")]


@dataclass(frozen=True)
class SeriesRow:
    bucket: Annotated[
        str,
        Field(description="Local label: 2026-11-11, week's Monday, 2026-11, or 2026-11-11T20:00+08:00"),
    ]
    start: IsoDateTime
    end: IsoDateTime
    breakdown_value: str | None
    values: MetricValues
    previous: Annotated[MetricValues | None, Field(description="The bucket before (环比)")] = None
    last_year: Annotated[MetricValues | None, Field(description="Same bucket a year earlier (同比)")] = None


@dataclass(frozen=True)
class Comparison:
    """A window total against an earlier period, and whether the change means anything
    (rules in ``analytics.comparability``)."""

    change: Annotated[
        float | None, Field(description="Relative change (0.125 = +12.5 %); null without a base")
    ]
    comparable: Annotated[bool, Field(description="False when the change should not be shown (see reason)")]
    reason_code: Annotated[str | None, Field(description="no_base, sparse_period or small_base")] = None
    reason: Annotated[str | None, Field(description="Why it is not comparable, in English")] = None
    details: Annotated[
        dict[str, int] | None,
        Field(
            description="Figures behind the reason: days_with_data, days, current_days_with_data; "
            "base, min_base"
        ),
    ] = None
    basis: Annotated[
        str | None,
        Field(
            description="What was too thin: the facts (sales, refunds, traffic, spend) of sparse_period, "
            "the count (order_count, buyer_count, visitor_count…) of small_base"
        ),
    ] = None


@dataclass(frozen=True)
class TotalRow:
    breakdown_value: str | None
    values: MetricValues
    previous_period: MetricValues | None = None
    last_year: MetricValues | None = None
    previous_period_change: Annotated[
        dict[str, Comparison] | None, Field(description="Per metric: change vs the previous period (环比)")
    ] = None
    last_year_change: Annotated[
        dict[str, Comparison] | None, Field(description="Per metric: change vs last year (同比)")
    ] = None


@dataclass(frozen=True)
class MetricsResult:
    """One metrics request's answer: buckets (``series``) and window totals, with comparisons."""

    tenant: str
    currency: str
    timezone: str
    granularity: str
    first: Annotated[date, Field(alias="from")]
    last: Annotated[date, Field(alias="to")]
    breakdown: BreakdownShown | None
    periods: Periods
    metrics: tuple[MetricInfo, ...]
    other_currencies: Annotated[
        dict[str, int],
        Field(
            description="Orders of the window in other currencies left out of every metric: no FX rate "
            "of the tenant applies to them (unconverted)"
        ),
    ]
    series: tuple[SeriesRow, ...]
    totals: tuple[TotalRow, ...]
    source: Annotated[
        str, Field(description="Where the base measures came from: rollups or facts (raw tables)")
    ] = "facts"
    converted_currencies: Annotated[
        dict[str, int],
        Field(description="Orders of the window in other currencies, converted with the tenant's FX rates"),
    ] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogueMetric:
    id: str
    name_en: str
    name_zh: str
    unit: str
    formula: str
    description: str
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """Every metric's definition (``GET …/metrics/catalogue``, ``ecomops metrics --list``)."""

    metrics: tuple[CatalogueMetric, ...]
    base_measures: dict[str, str]
    breakdowns: dict[str, str]
    granularities: tuple[str, ...]


@dataclass(frozen=True)
class RollupStatus:
    ready: Annotated[
        bool, Field(description="False until the rollups are built; metrics then read the raw facts")
    ]
    current: Annotated[
        bool,
        Field(
            description="Ready and in step with the fact tables' row counts (False: a writer skipped the "
            "refresh)"
        ),
    ]
    rebuilt_at: IsoDateTime | None
    refreshed_at: IsoDateTime | None
    hours_refreshed: Annotated[
        int, Field(description="UTC hours recomputed incrementally since the last rebuild")
    ]
    day_zone: Annotated[
        str | None,
        Field(
            description="Time zone the day rollups are kept in (the tenant's); None until the first "
            "metrics call"
        ),
    ]
    version: Annotated[
        int, Field(description="Rollup maintenance steps so far (invalidates kept period results)")
    ]
    rows: dict[str, int]
