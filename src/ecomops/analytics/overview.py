"""The overview dashboard: the tenant's landing page (``/t/{slug}/``).

KPI cards with their period-over-period (环比) and same-period-last-year (同比) changes, the GMV/orders
trend, channel mix, top products, ROAS by campaign and the conversion funnel, for a date range chosen
with presets (today, yesterday, 7/30 days, this month, 618, Double 11) or a custom range, in the shop's
time zone.

Every figure comes from the analytics use cases (``analytics.service``) — the same functions as
``GET /api/v1/t/{tenant}/metrics`` and ``…/funnel`` — in as few calls as the page allows: one for every
card with its comparisons (its day or hour series is also the trend), one per breakdown (channel,
product, campaign), run concurrently on separate cursors, plus the funnel. The page reads their typed
results (Decimal money, int counts, float ratios) directly. Each
number links to the page that explains it (orders filtered to the range, channel or UTM campaign, a
product page, the funnel or campaign panel).

Drill-down links list the orders of the range that carry the row's label (the engine's label:
``utm_campaign`` as is, "(none)" when missing — ``orders.service`` filters on the same label) in every
status, like the GMV card's link: the orders list cannot leave out cancelled orders, so it shows them
and the pages say so instead of pretending the counts match.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import reasons, service
from ecomops.analytics.catalogue import METRICS_BY_ID, Unit
from ecomops.analytics.engine import MetricsQuery
from ecomops.analytics.funnel import Funnel
from ecomops.analytics.results import Comparison, MetricsResult, MetricValue, MetricValues
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import EcomopsError, ValidationFailed
from ecomops.platform.console import i18n, labels
from ecomops.platform.console.downloads import export_links
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.shell import Page, error_page, problem_title, render
from ecomops.platform.warehouse.stats import table_counts

#: (key, label) of the range presets, in the order of the picker.
PRESETS: tuple[tuple[str, str], ...] = (
    ("today", N_("Today")),
    ("yesterday", N_("Yesterday")),
    ("7d", N_("Last 7 days")),
    ("30d", N_("Last 30 days")),
    ("month", N_("This month")),
    ("618", N_("618")),
    ("d11", N_("Double 11")),
    ("custom", N_("Custom")),
)
PRESET_KEYS = {key for key, _ in PRESETS}
DEFAULT_PRESET = "30d"
#: Longest custom range (the engine's day granularity allows more; a dashboard should stay quick).
MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Card:
    metric: str
    label: str
    #: Where the number leads: "orders" (orders list for the range), "funnel" or "campaigns" (a panel).
    drill: str
    #: False when a rise is bad news (refund rate): colours the change.
    up_is_good: bool = True
    #: A short definition shown under the label, where a figure is easily confused with another.
    definition: str | None = None


CARDS: tuple[Card, ...] = (
    Card("gmv", N_("GMV"), "orders"),
    Card("net_sales", N_("Net sales"), "orders"),
    Card("orders", N_("Orders"), "orders"),
    Card("buyers", N_("Buyers"), "orders"),
    Card("aov", N_("Average order value"), "orders"),
    Card("visitors", N_("Visitors"), "funnel"),
    Card("conversion_rate", N_("Conversion rate"), "funnel", definition=N_("buyers (orders) ÷ visitors")),
    Card("refund_rate", N_("Refund rate"), "refunds", up_is_good=False),
    Card("ad_spend", N_("Ad spend"), "campaigns", up_is_good=False),
    Card("roas", N_("ROAS"), "campaigns"),
)
CHANNEL_METRICS = ("gmv", "orders", "buyers")
PRODUCT_METRICS = ("gmv", "orders")
CAMPAIGN_METRICS = ("ad_spend", "attributed_revenue", "roas")
TOP_PRODUCTS = 10
TOP_CHANNELS = 12
TOP_CAMPAIGNS = 10
#: Breakdown views of the overview (region, device, traffic source): (breakdown id, tab label, column
#: heading). One is shown at a time (``?view=``), so the page makes one more metrics call, not five.
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("region", N_("Region"), N_("Region / province")),
    ("country", N_("Country"), N_("Country")),
    ("device", N_("Device"), N_("Device type")),
    ("source", N_("Traffic source"), N_("UTM source")),
    ("channel", N_("Channel"), N_("Channel")),
)
VIEW_KEYS = tuple(key for key, _, _ in VIEWS)
#: How a view's values read in the reader's language (identifiers and data terms; UTM sources as sent).
_VIEW_LABELS: dict[str, Callable[[str, str | None], str]] = {
    "region": labels.term,
    "country": labels.term,
    "device": labels.device,
    "channel": labels.channel,
}


def _view_label(view: str, locale: str, value: str | None) -> str:
    label = _VIEW_LABELS.get(view)
    return label(locale, value) if label else (value or "–")


DEFAULT_VIEW = "region"
#: GMV first: the engine ranks breakdown values by the first metric.
VIEW_METRICS = ("gmv", "orders", "visitors", "conversion_rate")
TOP_VIEW_VALUES = 15
#: The page's tables that export (``?export=``, ``analytics.overview_export``).
EXPORT_TABLES = ("channels", "products", "campaigns", "view")
FUNNEL_LABELS = {
    "visitors": N_("Visitors"),
    "product_views": N_("Viewed a product"),
    "add_to_cart": N_("Added to cart"),
    "checkout": N_("Started checkout"),
    "orders": N_("Ordered"),
}


@dataclass(frozen=True)
class DateRange:
    key: str
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def granularity(self) -> str:
        """A single day is shown by hour, anything longer by day."""
        return "hour" if self.first == self.last else "day"


def _festival(
    latest: date | None, today: date, month: int, first_day: int, last_day: int
) -> tuple[date, date]:
    """The festival's days in the latest year with data on or after its first day (else this year's or,
    before it starts, last year's): on a shop whose data ends in March 2026, "618" is June 2025."""
    anchor = latest or today
    year = anchor.year if anchor >= date(anchor.year, month, first_day) else anchor.year - 1
    return date(year, month, first_day), date(year, month, last_day)


def _parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{name}: {value!r} is not a date (YYYY-MM-DD)", {"field": name}) from None


def resolve_range(
    key: str | None, from_text: str | None, to_text: str | None, today: date, latest: date | None
) -> DateRange:
    """The range a request asks for: a preset, or ``from``/``to`` (custom; one alone means that day)."""
    first, last = _parse_day(from_text, "from"), _parse_day(to_text, "to")
    if not key:
        key = "custom" if first or last else DEFAULT_PRESET
    if key not in PRESET_KEYS:
        raise ValidationFailed(
            f"range: unknown preset {key!r}; known: {', '.join(k for k, _ in PRESETS)}", {"field": "range"}
        )
    if key == "custom":
        if first is None and last is None:
            raise ValidationFailed("a custom range needs from and/or to (YYYY-MM-DD)", {"field": "from"})
        first = first or last
        last = last or first
        assert first is not None and last is not None
        if first > last:
            raise ValidationFailed(
                f"from ({first.isoformat()}) is after to ({last.isoformat()})", {"field": "from"}
            )
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ValidationFailed(
                f"the range from {first.isoformat()} to {last.isoformat()} is longer than "
                f"{MAX_RANGE_DAYS} days",
                {"field": "to", "max_days": MAX_RANGE_DAYS},
            )
        return DateRange(key, first, last)
    if key == "today":
        return DateRange(key, today, today)
    if key == "yesterday":
        day = today - timedelta(days=1)
        return DateRange(key, day, day)
    if key == "7d":
        return DateRange(key, today - timedelta(days=6), today)
    if key == "30d":
        return DateRange(key, today - timedelta(days=29), today)
    if key == "month":
        return DateRange(key, today.replace(day=1), today)
    if key == "618":
        return DateRange(key, *_festival(latest, today, 6, 1, 18))
    return DateRange(key, *_festival(latest, today, 11, 1, 11))


def latest_order_day(cur: Any, timezone: str) -> date | None:
    """The local day of the shop's latest order (anchors the 618 and Double 11 presets)."""
    row = cur.execute("SELECT max(ordered_at) FROM orders").fetchone()
    value = row[0] if row else None
    if not isinstance(value, datetime):
        return None
    return value.astimezone(ZoneInfo(timezone)).date()


#: Why a change is not shown, as the console says it (the API's ``reason`` is English only).
NOT_COMPARABLE_REASONS = {
    ("previous_period", "sparse_period"): N_(
        "The previous period has %(what)s on only %(n)s of %(days)s days."
    ),
    ("last_year", "sparse_period"): N_(
        "The same period last year has %(what)s on only %(n)s of %(days)s days."
    ),
    ("previous_period", "small_base"): N_(
        "The previous period has only %(n)s %(what)s (fewer than %(min)s): too few for a percentage."
    ),
    ("last_year", "small_base"): N_(
        "The same period last year has only %(n)s %(what)s (fewer than %(min)s): too few for a percentage."
    ),
}
#: The facts or count a reason names (``Comparison.basis``).
BASIS_WORDS = {
    "sales": N_("orders"),
    "refunds": N_("refunds"),
    "traffic": N_("visits"),
    "spend": N_("ad spend"),
    "order_count": N_("orders"),
    "buyer_count": N_("buyers"),
    "visitor_count": N_("visitors"),
    "cart_visitor_count": N_("visitors who added to cart"),
}


def compared(comparison: Comparison | None, period: str, locale: str) -> dict[str, Any]:
    """A change as the page shows it: the percentage when comparable, else "not comparable" and why
    (nothing at all when there is no base: "–", as before)."""
    if comparison is None or comparison.reason_code in (None, "no_base"):
        return {"change": comparison.change if comparison else None, "comparable": True, "reason": None}
    details = comparison.details or {}
    reason = i18n.gettext(locale, NOT_COMPARABLE_REASONS[(period, comparison.reason_code)]) % {
        "n": i18n.number(details.get("days_with_data", details.get("base", 0)), locale),
        "days": i18n.number(details.get("days", 0), locale),
        "min": i18n.number(details.get("min_base", 0), locale),
        "what": i18n.gettext(locale, BASIS_WORDS[comparison.basis])
        if comparison.basis in BASIS_WORDS
        else (comparison.basis or ""),
    }
    return {"change": comparison.change, "comparable": False, "reason": reason}


def display(value: MetricValue, unit: str, metric: str, currency: str, locale: str) -> str:
    """A metric value as the page shows it: money in the shop currency, counts, percentages, ROAS as x.xx."""
    if value is None:
        return "–"
    if unit == Unit.money.value:
        return i18n.money(Decimal(value), currency, locale)
    if unit == Unit.count.value:
        return i18n.number(int(value), locale)
    if metric in ("roas",):
        return i18n.number(Decimal(str(value)), locale, 2)
    return i18n.percent(float(value), locale)


def _query(ids: tuple[str, ...] | list[str], rng: DateRange, **extra: Any) -> MetricsQuery:
    return MetricsQuery(ids=list(ids), first=rng.first, last=rng.last, granularity=rng.granularity, **extra)


def metric_queries(rng: DateRange) -> tuple[MetricsQuery, MetricsQuery, MetricsQuery, MetricsQuery]:
    """The page's metric calls (cards, channels, products, campaigns), also what the server's start-up
    warm-up asks (``analytics.warmup``), so the periods it keeps are the ones the first page needs."""
    return (
        _query([c.metric for c in CARDS], rng),
        _query(CHANNEL_METRICS, rng, breakdown="channel", limit=TOP_CHANNELS),
        _query(PRODUCT_METRICS, rng, breakdown="product", limit=TOP_PRODUCTS, compare=False),
        _query(CAMPAIGN_METRICS, rng, breakdown="campaign", limit=TOP_CAMPAIGNS, compare=False),
    )


def view_query(rng: DateRange, view: str) -> MetricsQuery:
    """The breakdown view's call: visitors, orders, GMV and conversion per value, compared like the cards
    (the same as ``GET /api/v1/t/{tenant}/metrics?ids=visitors,orders,gmv,conversion_rate&breakdown=…``)."""
    return _query(VIEW_METRICS, rng, breakdown=view, limit=TOP_VIEW_VALUES)


def parse_view(value: str | None) -> str:
    if not value:
        return DEFAULT_VIEW
    if value not in VIEW_KEYS:
        raise ValidationFailed(
            f"view: unknown view {value!r}; known: {', '.join(VIEW_KEYS)}", {"field": "view"}
        )
    return value


def _on_cursor(page: Page, fn: Any) -> Any:
    cur = page.state.warehouses.get(page.tenant.id).cursor()
    try:
        return fn(cur)
    finally:
        cur.close()


def product_names(cur: Any, ids: list[str], locale: str) -> dict[str, str]:
    """Names in the reader's language where the catalogue has one (``labels.product_name``)."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = cur.execute(
        "SELECT product_id, name, json_extract_string(attributes, '$.name_en'), "  # noqa: S608 (placeholders)
        f"json_extract_string(attributes, '$.name_zh') FROM products WHERE product_id IN ({marks})",
        ids,
    ).fetchall()
    return {str(pid): labels.product_name(locale, name, en, zh) for pid, name, en, zh in rows if name}


def _bucket_label(label: str, granularity: str) -> str:
    """Short axis labels: "20:00" for hours, "11-11" for days."""
    if granularity == "hour":
        return label[11:16]
    return label[5:10]


@dataclass(frozen=True)
class Figures:
    """The use cases' answers the page is made of."""

    cards: MetricsResult
    channels: MetricsResult
    products: MetricsResult
    campaigns: MetricsResult
    #: The breakdown view shown (region, device, traffic source…).
    view: MetricsResult
    funnel: Funnel
    #: Product names of the top products in the reader's language, by product id.
    names: dict[str, str]
    #: Rows per fact table (what data the shop holds).
    counts: dict[str, int]


async def load(page: Page, rng: DateRange, view: str = DEFAULT_VIEW) -> Figures:
    """Every figure of the page: the metrics calls and the funnel run concurrently, each on its own cursor."""
    state, tenant = page.state, page.tenant

    def metrics(query: MetricsQuery) -> MetricsResult:
        return service.get_metrics(state, tenant, query)

    asked = metric_queries(rng)
    view_task = asyncio.ensure_future(run_in_threadpool(metrics, view_query(rng, view)))
    cards, channels, products, campaigns, funnel, counts = await asyncio.gather(
        run_in_threadpool(metrics, asked[0]),
        run_in_threadpool(metrics, asked[1]),
        run_in_threadpool(metrics, asked[2]),
        run_in_threadpool(metrics, asked[3]),
        run_in_threadpool(service.get_funnel, state, tenant, rng.first, rng.last, tenant.timezone),
        run_in_threadpool(table_counts, state.warehouses.get(tenant.id)),
    )
    by_view = await view_task
    product_ids = [str(t.breakdown_value) for t in products.totals]
    names = await run_in_threadpool(
        _on_cursor, page, lambda cur: product_names(cur, product_ids, page.locale)
    )
    return Figures(cards, channels, products, campaigns, by_view, funnel, names, counts)


def _cmp(changes: dict[str, Comparison] | None, metric: str) -> Comparison | None:
    return None if changes is None else changes[metric]


def _of(values: MetricValues | None, metric: str) -> MetricValue:
    """A metric's value in an optional comparison (absent when the request did not compare)."""
    return None if values is None else values[metric]


def build(page: Page, rng: DateRange, data: Figures) -> dict[str, Any]:
    """Turn the typed answers into what the template shows: formatted values, changes and links."""
    locale, currency, base = page.locale, page.tenant.currency, page.base
    window = {"date_from": rng.first.isoformat(), "date_to": rng.last.isoformat()}
    orders_url = f"{base}/orders?" + urlencode(window)
    answer = data.cards
    total = answer.totals[0]
    metric_info = {m.id: m for m in answer.metrics}
    drill = {
        "orders": orders_url,
        "refunds": f"{base}/orders?" + urlencode({**window, "status": "refunded"}),
        "funnel": "#funnel",
        "campaigns": "#campaigns",
    }
    cards = []
    #: Reasons of the changes left out, each once: shown above the cards.
    notes: list[str] = []
    for card in CARDS:
        info = metric_info[card.metric]
        value = total.values[card.metric]
        prev = _of(total.previous_period, card.metric)
        ly = _of(total.last_year, card.metric)
        vs_previous = compared(_cmp(total.previous_period_change, card.metric), "previous_period", locale)
        vs_last_year = compared(_cmp(total.last_year_change, card.metric), "last_year", locale)
        # A 365-day window's previous period is last year's: its reasons are said once.
        same_period = answer.periods.previous_period == answer.periods.last_year
        notes += [v["reason"] for v in (vs_previous, vs_last_year)[: 1 if same_period else 2] if v["reason"]]
        cards.append(
            {
                "id": card.metric,
                "label": card.label,
                "value": value,
                "text": display(value, info.unit, card.metric, currency, locale),
                "available": info.available,
                "reason": reasons.explain(locale, info.reason),
                "previous": display(prev, info.unit, card.metric, currency, locale),
                "vs_previous": vs_previous,
                "last_year": display(ly, info.unit, card.metric, currency, locale),
                "vs_last_year": vs_last_year,
                "up_is_good": card.up_is_good,
                "href": drill[card.drill],
                "description": METRICS_BY_ID[card.metric].description,
                "definition": card.definition,
            }
        )

    gmv_total = _money(total.values["gmv"])
    trend_rows = answer.series
    has_ly = any(_of(row.last_year, "gmv") not in (None, 0) for row in trend_rows)
    trend = {
        # Nothing sold in the range: the page says so instead of drawing flat lines on a 0–1 axis.
        "empty": not any(row.values["orders"] for row in trend_rows),
        "granularity": rng.granularity,
        "currency": currency,
        "locale": locale.replace("_", "-"),
        "labels": [_bucket_label(row.bucket, rng.granularity) for row in trend_rows],
        "gmv": [float(_money(row.values["gmv"])) for row in trend_rows],
        "orders": [int(row.values["orders"] or 0) for row in trend_rows],
        "gmv_last_year": [float(_money(_of(row.last_year, "gmv"))) for row in trend_rows] if has_ly else None,
        "links": [
            f"{base}/orders?" + urlencode({"date_from": row.bucket[:10], "date_to": row.bucket[:10]})
            for row in trend_rows
        ],
        "names": {
            "gmv": i18n.gettext(locale, "GMV"),
            "orders": i18n.gettext(locale, "Orders"),
            "gmv_last_year": i18n.gettext(locale, "GMV last year"),
        },
    }

    channels = []
    for row in data.channels.totals:
        name = row.breakdown_value
        gmv = row.values["gmv"]
        channels.append(
            {
                "name": name,
                "label": labels.channel(locale, name),
                "gmv": gmv,
                "gmv_text": display(gmv, Unit.money.value, "gmv", currency, locale),
                "orders": row.values["orders"],
                "buyers": row.values["buyers"],
                "share": float(_money(gmv) / gmv_total) if gmv is not None and gmv_total else None,
                "vs_previous": compared(_cmp(row.previous_period_change, "gmv"), "previous_period", locale),
                "href": f"{base}/orders?" + urlencode({**window, "channel": name})
                if name != "(none)"
                else orders_url,
            }
        )
    channel_chart = {
        "currency": currency,
        "locale": locale.replace("_", "-"),
        "items": [
            {"name": c["label"], "value": float(_money(row.values["gmv"])), "href": c["href"]}
            for c, row in zip(channels, data.channels.totals, strict=True)
        ],
    }

    products = []
    for rank, row in enumerate(data.products.totals, start=1):
        pid = str(row.breakdown_value)
        gmv = row.values["gmv"]
        products.append(
            {
                "rank": rank,
                "id": pid,
                "name": data.names.get(pid, pid),
                "gmv": gmv,
                "gmv_text": display(gmv, Unit.money.value, "gmv", currency, locale),
                "orders": row.values["orders"],
                "href": f"{base}/products/{pid}" if pid != "(none)" else f"{base}/products",
            }
        )
    product_total = sum((_money(row.values["gmv"]) for row in data.products.totals), Decimal(0))

    campaign_answer = data.campaigns
    spend_info = {m.id: m for m in campaign_answer.metrics}
    campaigns = []
    for row in campaign_answer.totals:
        v = row.values
        campaigns.append(
            {
                "name": row.breakdown_value,
                # Orders carrying this utm_campaign label in the range ("(none)" = without a campaign).
                "href": f"{base}/orders?" + urlencode({**window, "utm_campaign": row.breakdown_value}),
                "spend": v["ad_spend"],
                "spend_text": display(v["ad_spend"], "money", "ad_spend", currency, locale),
                "revenue": v["attributed_revenue"],
                "revenue_text": display(
                    v["attributed_revenue"], "money", "attributed_revenue", currency, locale
                ),
                "roas": v["roas"],
                "roas_text": display(v["roas"], "ratio", "roas", currency, locale),
            }
        )
    max_roas = max((float(c["roas"]) for c in campaigns if c["roas"] is not None), default=0.0)

    view_answer = data.view
    view_info = {m.id: m for m in view_answer.metrics}
    view_id = view_answer.breakdown.id if view_answer.breakdown else DEFAULT_VIEW
    view_rows: list[dict[str, Any]] = []
    for row in view_answer.totals:
        v = row.values
        view_rows.append(
            {
                "name": row.breakdown_value,
                "label": _view_label(view_id, locale, row.breakdown_value),
                "cells": {
                    m: {
                        "value": v[m],
                        "text": display(v[m], view_info[m].unit, m, currency, locale),
                    }
                    for m in VIEW_METRICS
                },
                "vs_previous": compared(_cmp(row.previous_period_change, "gmv"), "previous_period", locale),
            }
        )
    view = {
        "id": view_id,
        "rows": view_rows,
        "shown": view_answer.breakdown.values_shown if view_answer.breakdown else 0,
        "total": view_answer.breakdown.values_total if view_answer.breakdown else 0,
        "reasons": {m: view_info[m].reason for m in VIEW_METRICS if not view_info[m].available},
        "chart": {
            "currency": currency,
            "locale": locale.replace("_", "-"),
            "names": {"gmv": i18n.gettext(locale, "GMV"), "orders": i18n.gettext(locale, "Orders")},
            "labels": [r["label"] for r in view_rows[:10]],
            "gmv": [float(_money(row.values["gmv"])) for row in view_answer.totals[:10]],
            "orders": [int(row.values["orders"] or 0) for row in view_answer.totals[:10]],
        },
    }

    fn = data.funnel
    steps = [
        {
            "id": s.id,
            "label": FUNNEL_LABELS[s.id],
            "visitors": s.visitors,
            "text": i18n.number(s.visitors, locale),
            "step_rate": s.step_rate,
            "overall_rate": s.overall_rate,
            "width": max(2.0, 100.0 * s.overall_rate) if s.overall_rate is not None else 0.0,
        }
        for s in fn.steps
    ]
    periods = {
        name: (p.first, p.last)
        for name, p in (
            ("current", answer.periods.current),
            ("previous_period", answer.periods.previous_period),
            ("last_year", answer.periods.last_year),
        )
        if p is not None
    }
    return {
        "range": rng,
        "periods": periods,
        "cards": cards,
        "comparison_notes": list(dict.fromkeys(notes)),
        "conversion_card": next(c["text"] for c in cards if c["id"] == "conversion_rate"),
        "trend": trend,
        "channels": channels,
        "channel_chart": channel_chart,
        "products": products,
        "product_total": product_total,
        "campaigns": campaigns,
        "campaigns_reason": reasons.explain(locale, spend_info["ad_spend"].reason),
        "max_roas": max_roas,
        "funnel": fn,
        "funnel_steps": steps,
        "other_currencies": answer.other_currencies,
        "converted_currencies": answer.converted_currencies,
        "view": view,
        "orders_url": orders_url,
        "counts": data.counts,
    }


def _money(value: MetricValue) -> Decimal:
    """A money cell as a Decimal (missing: 0), for sums, shares and chart points."""
    return value if isinstance(value, Decimal) else Decimal(0)


def preset_links(page: Page) -> list[dict[str, str]]:
    return [
        {"key": key, "label": label, "href": f"{page.base}/?" + urlencode({"range": key})}
        for key, label in PRESETS
        if key != "custom"
    ]


def view_tabs(page: Page, rng: DateRange, view: str) -> list[dict[str, Any]]:
    """Links to the other breakdown views for the same range (anchored to the views card)."""
    window = (
        {"range": "custom", "from": rng.first.isoformat(), "to": rng.last.isoformat()}
        if rng.key == "custom"
        else {"range": rng.key}
    )
    return [
        {
            "key": key,
            "label": label,
            "heading": heading,
            "current": key == view,
            "href": f"{page.base}/?" + urlencode({**window, "view": key}) + "#views",
        }
        for key, label, heading in VIEWS
    ]


async def anchors(page: Page) -> tuple[date, date | None]:
    """Today in the shop's zone and the local day of its latest order: what the presets resolve against."""
    today = utcnow().astimezone(ZoneInfo(page.tenant.timezone)).date()
    latest = await run_in_threadpool(
        _on_cursor, page, lambda cur: latest_order_day(cur, page.tenant.timezone)
    )
    return today, latest


def table_exports(page: Page, rng: DateRange, view: str) -> dict[str, dict[str, str]]:
    """Each table's export links: this page with its range and view, the table and the format."""
    window = {"range": rng.key, "from": rng.first.isoformat(), "to": rng.last.isoformat(), "view": view}
    return {
        table: export_links(f"{page.base}/", urlencode({**window, "export": table}))
        for table in EXPORT_TABLES
    }


async def overview_page(page: Page) -> HTMLResponse:
    """Render the dashboard for the range in the query string (a bad range: the default one and a 422)."""
    request: Request = page.request
    today, latest = await anchors(page)
    params = request.query_params
    error = None
    try:
        rng = resolve_range(params.get("range"), params.get("from"), params.get("to"), today, latest)
    except EcomopsError as exc:
        error = exc.message
        rng = resolve_range(None, None, None, today, latest)
    try:
        view = parse_view(params.get("view"))
    except EcomopsError as exc:
        error = exc.message
        view = DEFAULT_VIEW
    try:
        data = await load(page, rng, view)
    except EcomopsError as exc:  # e.g. metrics_timeout on a huge shop: say so instead of a bare 500
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    context = build(page, rng, data)
    context.update(
        {
            "error": error,
            "presets": preset_links(page),
            "latest_day": latest,
            "form": {"from": rng.first.isoformat(), "to": rng.last.isoformat()},
            "view_tabs": view_tabs(page, rng, view),
            "table_exports": table_exports(page, rng, view),
        }
    )
    return render(page, "analytics/overview.html", context, status=422 if error else 200)
