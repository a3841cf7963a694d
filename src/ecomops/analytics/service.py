"""The analytics module's public interface: its use cases, and what other modules may use.

Use cases (one function each; the API handler and the CLI command both call it, the CLI through the
running server's API when one owns the warehouse): metrics, the catalogue, the funnel, the rollups'
status and their rebuild. Each takes the process state and the tenant and returns a typed result
(``analytics.results``, ``analytics.funnel.Funnel``) that the API serialises and the console reads.

For other modules: the metric catalogue (metrics, breakdowns, the order statuses that do not count),
reporting periods and buckets in the tenant's zone, and the measure sources the KPI engine reads
(rollups when they can answer, else the raw facts). Other modules go through these names only
(``make lint`` enforces it).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from ecomops.analytics import engine, funnel, rollups, sessions
from ecomops.analytics.catalogue import (
    BASE_MEASURES,
    BREAKDOWNS,
    EXCLUDED_ORDER_STATUSES,
    METRICS,
    METRICS_BY_ID,
    NONE_LABEL,
    Unit,
    catalogue,
    parse_breakdown,
)
from ecomops.analytics.engine import MetricsQuery
from ecomops.analytics.funnel import Funnel
from ecomops.analytics.periods import Bucket, Granularity, bucket_at, last_year_bucket, local_midnight
from ecomops.analytics.results import Catalogue, MetricsResult, RollupStatus
from ecomops.analytics.rollups import source_for as rollup_source_for
from ecomops.analytics.sessions import SessionConversion
from ecomops.analytics.sources import Cells, FactsSource, MeasureSource
from ecomops.fx import service as fx
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.audit import record_action
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import Column, ExportTable, Format, audit_export
from ecomops.platform.web.state import AppState

__all__ = [
    "BASE_MEASURES",
    "BREAKDOWNS",
    "EXCLUDED_ORDER_STATUSES",
    "METRICS",
    "METRICS_BY_ID",
    "NONE_LABEL",
    "Bucket",
    "Catalogue",
    "Cells",
    "FactsSource",
    "Funnel",
    "Granularity",
    "MeasureSource",
    "MetricsQuery",
    "MetricsResult",
    "RollupStatus",
    "SessionConversion",
    "Unit",
    "bucket_at",
    "catalogue",
    "get_funnel",
    "get_metrics",
    "get_session_conversion",
    "last_year_bucket",
    "local_midnight",
    "parse_breakdown",
    "rebuild_rollups",
    "rollup_source_for",
    "rollup_status",
]


def get_metrics(state: AppState, tenant: TenantInfo, query: MetricsQuery) -> MetricsResult:
    """Catalogue metrics over the tenant's warehouse (validated first: 422 naming the parameter);
    amounts in other currencies convert with the tenant's FX table (``fx.service``)."""
    engine.check(query)
    rates = fx.rates_for(state.engine, tenant.id)
    return engine.compute_for_warehouse(state.warehouses.get(tenant.id), tenant, query, rates)


def get_funnel(
    state: AppState, tenant: TenantInfo, first: date | None, last: date | None, timezone: str | None
) -> Funnel:
    """The conversion funnel of local days [first, last] (default: the 30 days ending today)."""
    first, last, zone = funnel.window(tenant, first, last, timezone)
    cur = state.warehouses.get(tenant.id).cursor()
    try:
        return funnel.compute(cur, first, last, zone)
    finally:
        cur.close()


def get_session_conversion(
    state: AppState,
    tenant: TenantInfo,
    breakdown: str | None,
    first: date | None,
    last: date | None,
    timezone: str | None,
) -> SessionConversion:
    """Sessions and converted sessions (session imports) by a session property, in local days."""
    cur = state.warehouses.get(tenant.id).cursor()
    try:
        return sessions.compute(cur, breakdown, first, last, timezone or tenant.timezone)
    finally:
        cur.close()


def export_session_conversion(
    state: AppState,
    tenant: TenantInfo,
    breakdown: str | None,
    first: date | None,
    last: date | None,
    timezone: str | None,
    fmt: Format,
    *,
    via: str,
) -> ExportTable:
    """The "export session conversion" use case: :func:`get_session_conversion`'s rows, then its total
    (value ``all``); the rate as a ratio (0.0123), not a percentage. Audited as ``sessions.export``."""
    result = get_session_conversion(state, tenant, breakdown, first, last, timezone)
    rows = [*result.rows, result.total]
    filters = {
        "breakdown": breakdown or "",
        "from": first.isoformat() if first else "",
        "to": last.isoformat() if last else "",
        "timezone": result.timezone,
    }
    audit_export(state.engine, tenant.id, "sessions", fmt, filters=filters, rows=len(rows), via=via)
    columns = (
        Column("value", breakdown or N_("Total")),
        Column("sessions", N_("Sessions"), "int"),
        Column("converted", N_("Converted"), "int"),
        Column("conversion_rate", N_("Conversion rate"), "number"),
    )
    return ExportTable("session-conversion", columns, (asdict(r) for r in rows), result.timezone, len(rows))


def rollup_status(state: AppState, tenant: TenantInfo) -> RollupStatus:
    """Whether the rollups are built and current, when they were rebuilt/refreshed, their row counts."""
    cur = state.warehouses.get(tenant.id).cursor()
    try:
        return rollups.status(cur)
    finally:
        cur.close()


def rebuild_rollups(state: AppState, tenant: TenantInfo) -> RollupStatus:
    """Recompute every rollup from the facts and keep the day tables in the tenant's zone; audited
    ``metrics.rollups_rebuilt`` with the status before and after. Needs the warehouse writable."""
    with state.warehouses.get(tenant.id).write() as cur:
        before = rollups.status(cur)
        rollups.rebuild(cur)
        rollups.keep_days_in(cur, tenant.timezone)
        after = rollups.status(cur)
    record_action(
        state.engine,
        tenant.id,
        "metrics.rollups_rebuilt",
        "warehouse",
        tenant.id,
        before=json_form(before, RollupStatus),
        after=json_form(after, RollupStatus),
    )
    return after
