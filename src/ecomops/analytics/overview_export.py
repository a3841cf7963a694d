"""The overview's tables as files: channel mix, top products, ROAS by campaign and the "Where sales come
from" view (``/t/{slug}/?export=<table>&format=csv|xlsx`` with the page's range and ``view``).

Each file is the answer of the same metrics call the page makes for that table
(:func:`ecomops.analytics.overview.metric_queries`, :func:`~ecomops.analytics.overview.view_query`),
through ``analytics.service.get_metrics``: the same rows in the same order, money as numbers in the
shop's currency (named in a column), rates as ratios (0.125, not "12.5 %"), a change vs the previous
period only where the page shows one (comparable). Audited as ``overview.<table>.export``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Response

from ecomops.analytics import overview, service
from ecomops.analytics.engine import MetricsQuery
from ecomops.analytics.results import Comparison, MetricsResult, TotalRow
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console import labels
from ecomops.platform.console.downloads import download
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.shell import Page, error_page, problem_title
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import Column, ExportTable, Format, audit_export, parse_table
from ecomops.platform.web.state import AppState

TABLES = overview.EXPORT_TABLES

CURRENCY = Column("currency", N_("Currency"))
CHANGE = Column("gmv_vs_previous", N_("GMV vs previous"), "number")
COLUMNS: dict[str, tuple[Column, ...]] = {
    "channels": (
        Column("channel", N_("Channel ID")),
        Column("label", N_("Channel")),
        Column("gmv", N_("GMV"), "money"),
        Column("orders", N_("Orders"), "int"),
        Column("buyers", N_("Buyers"), "int"),
        CHANGE,
        CURRENCY,
    ),
    "products": (
        Column("rank", "#", "int"),
        Column("product_id", N_("Product ID")),
        Column("name", N_("Product")),
        Column("gmv", N_("GMV"), "money"),
        Column("orders", N_("Orders"), "int"),
        CURRENCY,
    ),
    "campaigns": (
        Column("campaign", N_("Campaign")),
        Column("ad_spend", N_("Ad spend"), "money"),
        Column("attributed_revenue", N_("Attributed revenue"), "money"),
        Column("roas", N_("ROAS"), "number"),
        CURRENCY,
    ),
}
#: The view's first column is named for the view (region, device…), as on the page.
VIEW_VALUES = (
    Column("visitors", N_("Visitors"), "int"),
    Column("orders", N_("Orders"), "int"),
    Column("gmv", N_("GMV"), "money"),
    Column("conversion_rate", N_("Conversion rate"), "number"),
    CHANGE,
    CURRENCY,
)
FILE_NAMES = {
    "channels": "channel-mix",
    "products": "top-products",
    "campaigns": "roas-by-campaign",
    "view": "sales-by",
}


def _change(row: TotalRow) -> float | None:
    comparison: Comparison | None = (row.previous_period_change or {}).get("gmv")
    return comparison.change if comparison is not None and comparison.comparable else None


def _query(which: str, rng: overview.DateRange, view: str) -> MetricsQuery:
    if which == "view":
        return overview.view_query(rng, view)
    _, channels, products, campaigns = overview.metric_queries(rng)
    return {"channels": channels, "products": products, "campaigns": campaigns}[which]


def _rows(
    which: str, result: MetricsResult, locale: str, names: Callable[[list[str]], Mapping[str, str]]
) -> list[dict[str, Any]]:
    currency = {"currency": result.currency}
    if which == "channels":
        return [
            {
                "channel": r.breakdown_value,
                "label": labels.channel(locale, r.breakdown_value),
                "gmv": r.values["gmv"],
                "orders": r.values["orders"],
                "buyers": r.values["buyers"],
                "gmv_vs_previous": _change(r),
                **currency,
            }
            for r in result.totals
        ]
    if which == "products":
        ids = [str(r.breakdown_value) for r in result.totals]
        named = names(ids)
        return [
            {"rank": rank, "product_id": pid, "name": named.get(pid, pid), **r.values, **currency}
            for rank, (pid, r) in enumerate(zip(ids, result.totals, strict=True), start=1)
        ]
    if which == "campaigns":
        return [{"campaign": r.breakdown_value, **r.values, **currency} for r in result.totals]
    return [
        {"value": r.breakdown_value, **r.values, "gmv_vs_previous": _change(r), **currency}
        for r in result.totals
    ]


def export_overview_table(
    state: AppState,
    tenant: TenantInfo,
    locale: str,
    which: str,
    rng: overview.DateRange,
    view: str,
    fmt: Format,
    *,
    via: str,
) -> ExportTable:
    """The "export an overview table" use case: the page's call for ``which`` in ``rng`` (and ``view``),
    its rows as the page lists them; audited as ``overview.<which>.export`` with the range."""
    result = service.get_metrics(state, tenant, _query(which, rng, view))

    def names(ids: list[str]) -> Mapping[str, str]:
        cur = state.warehouses.get(tenant.id).cursor()
        try:
            return overview.product_names(cur, ids, locale)
        finally:
            cur.close()

    rows = _rows(which, result, locale, names)
    filters = {"range": rng.key, "from": rng.first.isoformat(), "to": rng.last.isoformat()}
    if which == "view":
        filters["view"] = view
    audit_export(state.engine, tenant.id, f"overview.{which}", fmt, filters=filters, rows=len(rows), via=via)
    columns: tuple[Column, ...] = COLUMNS.get(which, ())
    name = FILE_NAMES[which]
    if which == "view":
        heading = next(h for key, _, h in overview.VIEWS if key == view)
        columns, name = (Column("value", heading), *VIEW_VALUES), f"{name}-{view}"
    return ExportTable(
        f"{name}-{rng.first.isoformat()}-{rng.last.isoformat()}", columns, rows, tenant.timezone, len(rows)
    )


async def overview_download(page: Page) -> Response | None:
    """``/t/{slug}/?export=<table>&format=…``: the table as a file, a 422 page for a bad table, range or
    view (a file must hold what was asked, so no fallback to the default range), ``None`` without a
    format (the page renders as usual)."""
    params = page.request.query_params
    if not params.get("format"):
        return None
    try:
        which = parse_table(params.get("export"), TABLES)
        today, latest = await overview.anchors(page)
        rng = overview.resolve_range(params.get("range"), params.get("from"), params.get("to"), today, latest)
        view = overview.parse_view(params.get("view"))
    except EcomopsError as exc:
        status = exc.status_code
        return error_page(page.request, status, problem_title(status), exc.message, page.session)
    return await download(
        page,
        lambda fmt: export_overview_table(
            page.state, page.tenant, page.locale, which, rng, view, fmt, via="session"
        ),
    )
