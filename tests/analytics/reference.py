"""An independent pandas implementation of docs/metrics.md, to check the engine against.

It shares no code with ``ecomops.analytics``: frames in plain columns (money in integer units of
0.0001, so sums are exact), buckets from pandas' own time-zone conversion, and every metric written
out from its documented definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd

E4 = Decimal("0.0001")
NONE = "(none)"
CANCELLED = {"cancelled", "canceled", "voided"}
ORDER_DIMS = {
    "channel": "channel",
    "source": "utm_source",
    "campaign": "utm_campaign",
    "region": "region",
    "country": "country",
    "device": "device",
}
SPEND_DIMS = {"channel": "channel", "source": "utm_source", "campaign": "utm_campaign"}


@dataclass
class Frames:
    """orders: order_id ts status currency total_e4 merch_e4 customer_id anonymous_id + ORDER_DIMS columns;
    lines: order_id product_id category quantity line_e4;
    refunds: order_id product_id ts amount_e4 quantity currency [country: of refunds without an order];
    events: ts type event anonymous_id user_id + dims; spend: date spend_e4 currency utm_*/channel;
    products: product_id category cost_e4 (nullable)."""

    orders: pd.DataFrame
    lines: pd.DataFrame
    refunds: pd.DataFrame
    events: pd.DataFrame
    spend: pd.DataFrame
    products: pd.DataFrame


def money(units: Any) -> Decimal:
    return (Decimal(int(units)) * E4).quantize(E4)


def labeler(granularity: str, tz: str) -> Callable[[pd.Series], pd.Series]:
    """Local bucket label of UTC timestamps, the way docs/metrics.md describes buckets."""

    def label(ts: pd.Series) -> pd.Series:
        local = ts.dt.tz_convert(tz).dt.tz_localize(None)
        if granularity == "hour":
            hours = local.dt.floor("h").dt.tz_localize(tz)
            return hours.map(lambda t: t.isoformat(timespec="minutes"))
        days = local.to_numpy().astype("datetime64[D]")
        if granularity == "month":
            return pd.Series(days.astype("datetime64[M]").astype(str), index=ts.index)
        if granularity == "week":
            weekday = pd.Series(days, index=ts.index).dt.weekday.to_numpy()
            days = days - weekday.astype("timedelta64[D]")
        return pd.Series(days.astype(str), index=ts.index)

    return label


def day_labeler(granularity: str) -> Callable[[pd.Series], pd.Series]:
    """Labels for local calendar days (ad_spend.date)."""

    def label(days: pd.Series) -> pd.Series:
        d = pd.to_datetime(days)
        if granularity == "day":
            return d.dt.strftime("%Y-%m-%d")
        if granularity == "month":
            return d.dt.strftime("%Y-%m")
        return (d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d")

    return label


def _dim(series: pd.Series) -> pd.Series:
    s = series.astype("object")
    return s.where(s.notna() & (s.astype(str).str.strip() != ""), NONE).astype(str)


def _in_window(ts: pd.Series, tz: str, first: date, last: date) -> pd.Series:
    day = ts.dt.tz_convert(tz).dt.date
    return (day >= first) & (day <= last)


def reference(
    f: Frames,
    *,
    tz: str,
    currency: str,
    first: date,
    last: date,
    granularity: str = "day",
    breakdown: str | None = None,
    total: bool = False,
) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Metrics per (bucket label, breakdown value); ``total=True`` makes the whole window one bucket."""
    label = labeler(granularity, tz)
    day_label = day_labeler(granularity)
    if total:

        def label(ts: pd.Series) -> pd.Series:
            return pd.Series("total", index=ts.index)

        def day_label(days: pd.Series) -> pd.Series:
            return pd.Series("total", index=days.index)

    line_level = breakdown in ("product", "category")
    cells: dict[tuple[str, str | None], dict[str, Any]] = {}

    def put(df: pd.DataFrame, **named: Any) -> None:
        if df.empty:
            return
        grouped = df.groupby(["label", "dim"]).agg(**named)
        for (lab, dim), row in zip(grouped.index, grouped.to_dict("records"), strict=True):
            cells.setdefault((lab, dim if breakdown else None), {}).update(row)

    # --- sales ------------------------------------------------------------------------------------
    o = f.orders[~f.orders["status"].str.lower().isin(CANCELLED)].copy()
    o["buyer"] = o["customer_id"].where(o["customer_id"].notna(), "anon:" + o["anonymous_id"].astype(str))
    o.loc[o["customer_id"].isna() & o["anonymous_id"].isna(), "buyer"] = None
    first_at = o[o["buyer"].notna()].groupby("buyer")["ts"].min()
    o["is_first"] = o["buyer"].map(first_at).eq(o["ts"]) & o["buyer"].notna()
    campaigns = set(zip(f.spend["utm_source"], f.spend["utm_medium"], f.spend["utm_campaign"], strict=True))
    o["attributed"] = [
        (s, m, c) in campaigns
        for s, m, c in zip(o["utm_source"], o["utm_medium"], o["utm_campaign"], strict=True)
    ]
    o = o[(o["currency"] == currency) & _in_window(o["ts"], tz, first, last)]
    if line_level:
        rows = f.lines.merge(o, on="order_id")
        rows["amount"] = rows["line_e4"]
        rows["merch"] = rows["line_e4"]
        rows["dim"] = _dim(rows["product_id" if breakdown == "product" else "category"])
    else:
        rows = o.copy()
        rows["amount"] = rows["total_e4"]
        rows["merch"] = rows["merch_e4"]
        rows["dim"] = _dim(rows[ORDER_DIMS[breakdown]]) if breakdown else NONE
    rows["label"] = label(rows["ts"])
    rows["attr_amount"] = rows["amount"].where(rows["attributed"], 0)
    put(
        rows,
        ordered=("amount", "sum"),
        merch=("merch", "sum"),
        orders=("order_id", "nunique"),
        attributed=("attr_amount", "sum"),
    )
    per_buyer = (
        rows[rows["buyer"].notna()]
        .groupby(["label", "dim", "buyer"])
        .agg(n=("order_id", "nunique"), first=("is_first", "any"), value=("amount", "sum"))
        .reset_index()
    )
    per_buyer["repeat"] = per_buyer["n"] >= 2
    put(
        per_buyer,
        buyers=("buyer", "count"),
        repeat=("repeat", "sum"),
        new=("first", "sum"),
        buyer_ordered=("value", "sum"),
    )

    # --- lines with cost -----------------------------------------------------------------------------
    lines = f.lines.merge(o, on="order_id").merge(
        f.products[["product_id", "cost_e4"]], on="product_id", how="left"
    )
    lines["cost"] = lines["quantity"] * lines["cost_e4"]
    lines["no_cost"] = lines["cost_e4"].isna()
    lines["a_value"] = lines["line_e4"].where(lines["attributed"], 0)
    lines["a_cost"] = lines["cost"].where(lines["attributed"], 0)
    lines["a_no_cost"] = lines["no_cost"] & lines["attributed"]
    if line_level:
        lines["dim"] = _dim(lines["product_id" if breakdown == "product" else "category"])
    else:
        lines["dim"] = _dim(lines[ORDER_DIMS[breakdown]]) if breakdown else NONE
    lines["label"] = label(lines["ts"])
    put(
        lines,
        line_value=("line_e4", "sum"),
        units_sold=("quantity", "sum"),
        line_cost=("cost", "sum"),
        no_cost=("no_cost", "sum"),
        a_value=("a_value", "sum"),
        a_cost=("a_cost", "sum"),
        a_no_cost=("a_no_cost", "sum"),
    )

    # --- refunds ---------------------------------------------------------------------------------
    r = f.refunds[(f.refunds["currency"] == currency) & _in_window(f.refunds["ts"], tz, first, last)].copy()
    if breakdown == "product":
        r["dim"] = _dim(r["product_id"])
    elif breakdown == "category":
        r = r.merge(f.products[["product_id", "category"]], on="product_id", how="left")
        r["dim"] = _dim(r["category"])
    elif breakdown:
        col = ORDER_DIMS[breakdown]
        by_order = f.orders.set_index("order_id")[col]
        value = r["order_id"].map(by_order)
        if col == "country" and "country" in r:  # a refund without an order keeps its own country
            value = value.where(r["order_id"].isin(by_order.index), r["country"])
        r["dim"] = _dim(value)
    else:
        r["dim"] = NONE
    r["label"] = label(r["ts"])
    put(r, refunds=("amount_e4", "sum"), units_refunded=("quantity", "sum"))

    # --- traffic -----------------------------------------------------------------------------------
    if not line_level and len(f.events):
        e = f.events[_in_window(f.events["ts"], tz, first, last)].copy()
        e["visitor"] = e["anonymous_id"].where(e["anonymous_id"].notna(), e["user_id"])
        e["dim"] = _dim(e[ORDER_DIMS[breakdown]]) if breakdown else NONE
        e["label"] = label(e["ts"])
        visits = e[e["type"].isin(["page", "screen"])]
        carts = e[(e["type"] == "track") & (e["event"] == "Product Added")]
        put(visits, visitors=("visitor", "nunique"))
        # Add-to-cart rate: cart visitors are visitors (a visit in the same bucket and breakdown value).
        visited = set(zip(visits["label"], visits["dim"], visits["visitor"], strict=True))
        keys = zip(carts["label"], carts["dim"], carts["visitor"], strict=True)
        put(carts[[k in visited for k in keys]], cart=("visitor", "nunique"))

    # --- spend -------------------------------------------------------------------------------------
    if breakdown in (None, *SPEND_DIMS) and len(f.spend) and granularity != "hour":
        s = f.spend[(f.spend["currency"] == currency)].copy()
        d = pd.to_datetime(s["date"]).dt.date
        s = s[(d >= first) & (d <= last)]
        s["dim"] = _dim(s[SPEND_DIMS[breakdown]]) if breakdown else NONE
        s["label"] = day_label(s["date"])
        put(s, spend=("spend_e4", "sum"))

    return {key: _metrics(cell) for key, cell in cells.items()}


def _ratio(a: Any, b: Any) -> float | None:
    return None if b == 0 else float(Decimal(int(a)) / Decimal(int(b)))


def _money_ratio(a_e4: Any, b: Any) -> Decimal | None:
    if b == 0:
        return None
    return (money(a_e4) / Decimal(int(b))).quantize(E4, rounding=ROUND_HALF_EVEN)


def _metrics(c: dict[str, Any]) -> dict[str, Any]:
    g = lambda k: c.get(k, 0)  # noqa: E731 - missing families mean zero rows
    no_cost = int(g("no_cost"))
    profit = None if no_cost else int(g("line_value")) - int(g("line_cost"))
    a_profit = None if g("a_no_cost") else int(g("a_value")) - int(g("a_cost"))
    return {
        "gmv": money(g("ordered")),
        "net_sales": money(int(g("merch")) - int(g("refunds"))),
        "orders": int(g("orders")),
        "buyers": int(g("buyers")),
        "aov": _money_ratio(g("ordered"), g("orders")),
        "gmv_per_buyer": _money_ratio(g("buyer_ordered"), g("buyers")),
        "visitors": int(g("visitors")),
        "conversion_rate": _ratio(g("buyers"), g("visitors")),
        "uv_value": _money_ratio(g("ordered"), g("visitors")),
        "add_to_cart_rate": _ratio(g("cart"), g("visitors")),
        "refunds": money(g("refunds")),
        "units_sold": int(g("units_sold")),
        "units_refunded": int(g("units_refunded")),
        "refund_rate": _ratio(g("refunds"), g("ordered")),
        "repurchase_rate": _ratio(g("repeat"), g("buyers")),
        "new_buyers": int(g("new")),
        "returning_buyers": int(g("buyers")) - int(g("new")),
        "new_buyer_share": _ratio(g("new"), g("buyers")),
        "gross_profit": None if profit is None else money(profit),
        "gross_margin": None if profit is None else _ratio(profit, g("line_value")),
        "ad_spend": money(g("spend")),
        "attributed_revenue": money(g("attributed")),
        "roas": _ratio(g("attributed"), g("spend")),
        "roi": None if a_profit is None else _ratio(a_profit - int(g("spend")), g("spend")),
        "cac": _money_ratio(g("spend"), g("new")),
    }


ZERO = _metrics({})


def engine_value(value: Any, unit: str) -> Any:
    """Engine JSON values back to Python for comparison."""
    if value is None:
        return None
    return Decimal(value) if unit == "money" else value


def assert_same(
    engine_cell: dict[str, Any], ref_cell: dict[str, Any], units: dict[str, str], where: str
) -> None:
    for metric, got in engine_cell.items():
        expected = ref_cell[metric]
        got = engine_value(got, units[metric])
        if isinstance(expected, float) and got is not None:
            assert abs(got - expected) <= 1e-9 * max(1.0, abs(expected)), (where, metric, got, expected)
        else:
            assert got == expected, (where, metric, got, expected)
