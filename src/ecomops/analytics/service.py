"""The analytics module's public interface: what other modules may use.

The metric catalogue (metrics, breakdowns, the order statuses that do not count), reporting periods
and buckets in the tenant's zone, and the measure sources the KPI engine reads (rollups when they can
answer, else the raw facts). Other modules go through these names only (``make lint`` enforces it).
"""

from __future__ import annotations

from ecomops.analytics.catalogue import (
    BASE_MEASURES,
    BREAKDOWNS,
    EXCLUDED_ORDER_STATUSES,
    METRICS,
    METRICS_BY_ID,
    NONE_LABEL,
    Unit,
    parse_breakdown,
)
from ecomops.analytics.periods import Bucket, Granularity, bucket_at, last_year_bucket, local_midnight
from ecomops.analytics.rollups import source_for as rollup_source_for
from ecomops.analytics.sources import Cells, FactsSource, MeasureSource

__all__ = [
    "BASE_MEASURES",
    "BREAKDOWNS",
    "EXCLUDED_ORDER_STATUSES",
    "METRICS",
    "METRICS_BY_ID",
    "NONE_LABEL",
    "Bucket",
    "Cells",
    "FactsSource",
    "Granularity",
    "MeasureSource",
    "Unit",
    "bucket_at",
    "last_year_bucket",
    "local_midnight",
    "parse_breakdown",
    "rollup_source_for",
]
