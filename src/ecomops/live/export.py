"""The live page's tables as files (``/t/{slug}/live?export=<table>&format=csv|xlsx``): hot products,
channels today, live-stream sessions and unpaid orders of the current snapshot — the one the page and
its stream show (the hub's, shared while fresh), so the file holds what is on screen at the click.

Money stays a number with the currency beside it, times are in the shop's zone, product names in the
reader's language (as on the page). Audited as ``live.<table>.export`` with the snapshot's ``as_of``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from ecomops.live.service import LiveSnapshot
from ecomops.platform.console import labels
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import Column, ExportTable, Format, audit_export

CURRENCY = Column("currency", N_("Currency"))
COLUMNS: dict[str, tuple[Column, ...]] = {
    "hot_products": (
        Column("rank", "#", "int"),
        Column("product_id", N_("Product ID")),
        Column("product", N_("Product")),
        Column("category", N_("Category")),
        Column("units", N_("Units"), "int"),
        Column("revenue", N_("Revenue"), "money"),
        Column("orders", N_("Orders"), "int"),
        CURRENCY,
    ),
    "channels": (
        Column("channel", N_("Channel ID")),
        Column("label", N_("Channel")),
        Column("gmv", N_("GMV"), "money"),
        Column("orders", N_("Orders"), "int"),
        CURRENCY,
    ),
    "live_sessions": (
        Column("live_session_id", N_("Session")),
        Column("title", N_("Title")),
        Column("host", N_("Host")),
        Column("channel", N_("Channel")),
        Column("started_at", N_("Started"), "datetime"),
        Column("ended_at", N_("Ended"), "datetime"),
        Column("on_air", N_("On air")),
        Column("peak_viewers", N_("Peak viewers"), "int"),
        Column("total_viewers", N_("Viewers"), "int"),
        Column("orders", N_("Orders"), "int"),
        Column("gmv", N_("GMV"), "money"),
        Column("gmv_per_viewer", N_("GMV per viewer"), "money"),
        CURRENCY,
    ),
    "unpaid": (
        Column("order_id", N_("Order")),
        Column("ordered_at", N_("Placed"), "datetime"),
        Column("status", N_("Status")),
        Column("channel", N_("Channel")),
        Column("customer_id", N_("Customer ID")),
        Column("items_count", N_("Items"), "int"),
        Column("total", N_("Total"), "money"),
        Column("currency", N_("Currency")),
    ),
}
TABLES = tuple(COLUMNS)
FILE_NAMES = {
    "hot_products": "live-hot-products",
    "channels": "live-channels",
    "live_sessions": "live-stream-sessions",
    "unpaid": "live-unpaid-orders",
}


def _rows(snap: LiveSnapshot, which: str, locale: str) -> list[Mapping[str, Any]]:
    currency = {"currency": snap.currency}
    if which == "hot_products":
        return [
            {**asdict(p), "product": labels.product_name(locale, p.name, p.name_en, p.name_zh), **currency}
            for p in snap.hot_products
        ]
    if which == "channels":
        return [{**asdict(c), "label": labels.channel(locale, c.channel), **currency} for c in snap.channels]
    if which == "live_sessions":
        return [{**asdict(s), "on_air": "yes" if s.on_air else "no", **currency} for s in snap.live_sessions]
    return [asdict(u) for u in snap.unpaid]


def export_live_table(
    engine: Engine, tenant: TenantInfo, snap: LiveSnapshot, which: str, locale: str, fmt: Format, *, via: str
) -> ExportTable:
    """The "export a live table" use case: ``which`` of ``snap`` (the snapshot the page shows)."""
    rows = _rows(snap, which, locale)
    filters = {"as_of": snap.as_of.isoformat()}
    audit_export(engine, tenant.id, f"live.{which}", fmt, filters=filters, rows=len(rows), via=via)
    return ExportTable(FILE_NAMES[which], COLUMNS[which], rows, tenant.timezone, len(rows))
