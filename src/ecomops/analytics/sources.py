"""Where base measures come from: Ibis expressions over a tenant warehouse's fact tables.

The engine only talks to a :class:`MeasureSource`: "give me these base measures for these buckets
and this breakdown". :class:`FactsSource` answers from the raw facts (orders, order_items, refunds,
events, ad_spend, products) with Ibis, so the same expressions can run on another Ibis backend. The
rollup-backed source for dashboards (:class:`~ecomops.analytics.rollups.RollupSource`, pre-aggregated
at ingest time) implements the same protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ecomops.analytics import reasons
from ecomops.analytics.catalogue import (
    ADD_TO_CART_EVENT,
    BASE_MEASURES,
    EXCLUDED_ORDER_STATUSES,
    NONE_LABEL,
    VISIT_EVENT_TYPES,
    Breakdown,
    Family,
)
from ecomops.analytics.conversion import RateSpan
from ecomops.analytics.periods import Bucket, Granularity

#: (bucket label, breakdown value or None) → base measure id → value.
Cells = dict[tuple[str, str | None], dict[str, Decimal | int]]

_SEP = "\x1f"


class MeasureSource(Protocol):
    def unavailable(
        self, measure: str, breakdown: Breakdown | None, granularity: Granularity, currency: str
    ) -> str | None:
        """Why ``measure`` cannot be computed for this tenant and request, or None if it can."""

    def compute(
        self,
        family: Family,
        buckets: Sequence[Bucket],
        breakdown: Breakdown | None,
        currency: str,
        measures: Collection[str] | None = None,
    ) -> Cells:
        """The family's base measures for every bucket and breakdown value that has facts.
        ``measures`` names the ones the caller needs (None: all); a source may leave the others out."""

    def other_currencies(self, window: Bucket, currency: str) -> dict[str, int]:
        """Counted orders in ``window`` in currencies other than ``currency`` that are left out of the
        metrics (no FX rate applies to them)."""

    def converted_currencies(self, window: Bucket, currency: str) -> dict[str, int]:
        """Counted orders in ``window`` in other currencies that were converted with an FX rate."""


def _buckets_table(buckets: Sequence[Bucket]) -> ir.Table:
    return ibis.memtable(
        pa.table(
            {
                "b_label": pa.array([b.label for b in buckets], pa.string()),
                "b_start": pa.array([b.start for b in buckets], pa.timestamp("us", tz="UTC")),
                "b_end": pa.array([b.end for b in buckets], pa.timestamp("us", tz="UTC")),
                "b_first_day": pa.array([b.first_day for b in buckets], pa.date32()),
                "b_end_day": pa.array([b.end_day for b in buckets], pa.date32()),
            }
        )
    )


def _dim(column: ir.Value) -> ir.StringValue:
    """A breakdown value; missing and empty values become ``(none)``."""
    text = column.cast("string")
    return ibis.ifelse(text.isnull() | (text.strip() == ""), ibis.literal(NONE_LABEL), text)


@dataclass
class FactsSource:
    """Base measures straight from the fact tables of one warehouse connection (Ibis backend)."""

    backend: Any
    #: Set by the engine's watchdog: no further query starts once it is (a running one is interrupted).
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: FX rates into the reporting currency: facts in other currencies convert with the span that
    #: contains their instant (their day, for ad spend); empty = only facts in the currency count.
    fx: Sequence[RateSpan] = ()
    _checks: dict[str, bool] = field(default_factory=dict)
    _span: tuple[Any, Any, Any, Any] = (None, None, None, None)

    def _run(self, expr: ir.Table) -> pa.Table:
        if self.cancelled.is_set():
            raise duckdb.InterruptException("metrics request cancelled by its watchdog")
        return expr.to_pyarrow()

    def _t(self, name: str) -> ir.Table:
        return self.backend.table(name)

    def _exists(self, key: str, expr: ir.Table) -> bool:
        if key not in self._checks:
            self._checks[key] = self._run(expr.limit(1)).num_rows > 0
        return self._checks[key]

    # --- availability ---------------------------------------------------------------------------

    def unavailable(
        self, measure: str, breakdown: Breakdown | None, granularity: Granularity, currency: str
    ) -> str | None:
        family = BASE_MEASURES[measure].family
        if family is Family.traffic:
            if breakdown is not None and breakdown.events is None:
                return reasons.NOT_PER_VISITS.format(dimension=breakdown.id)
            e = self._t("events")
            if not self._exists("visits", e.filter(e.type.isin(VISIT_EVENT_TYPES))):
                return reasons.NO_VISIT_EVENTS
            if measure == "cart_visitor_count" and not self._exists(
                "carts", e.filter((e.type == "track") & (e.event == ADD_TO_CART_EVENT))
            ):
                return reasons.NO_EVENTS.format(event=ADD_TO_CART_EVENT)
        elif family is Family.spend:
            if granularity is Granularity.hour:
                return reasons.SPEND_DAILY
            if breakdown is not None and breakdown.ad_spend is None:
                return reasons.NOT_PER_SPEND.format(dimension=breakdown.id)
            a = self._t("ad_spend")
            convertible = [currency, *sorted({span.currency for span in self.fx})]
            if not self._exists(f"spend:{currency}", a.filter(a.currency.isin(convertible))):
                return reasons.NO_SPEND_IN.format(currency=currency)
        elif family is Family.lines or measure.startswith("attributed_"):
            if family is Family.lines:
                p = self._t("products")
                if not self._exists("costs", p.filter(p.cost.notnull())):
                    return reasons.NO_COSTS
            if measure.startswith("attributed_"):
                a = self._t("ad_spend")
                if not self._exists("spend:any", a):
                    return reasons.NO_SPEND
        return None

    def _foreign_orders(self, window: Bucket, currency: str) -> ir.Table:
        o = self._t("orders")
        return o.filter(
            ~o.status.lower().isin(EXCLUDED_ORDER_STATUSES),
            o.ordered_at >= window.start,
            o.ordered_at < window.end,
            o.currency != currency,
        )

    def _counts(self, expr: ir.Table) -> dict[str, int]:
        expr = expr.group_by("currency").aggregate(n=expr.count())
        return {str(row["currency"]): int(row["n"]) for row in self._run(expr).to_pylist()}

    def other_currencies(self, window: Bucket, currency: str) -> dict[str, int]:
        f = self._foreign_orders(window, currency)
        if self.fx:
            r = self._rates()
            f = f.anti_join(
                r, [f.currency == r.fx_currency, f.ordered_at >= r.fx_start, f.ordered_at < r.fx_end]
            )
        return self._counts(f)

    def converted_currencies(self, window: Bucket, currency: str) -> dict[str, int]:
        if not self.fx:
            return {}
        f = self._foreign_orders(window, currency)
        r = self._rates()
        rated = [f.currency == r.fx_currency, f.ordered_at >= r.fx_start, f.ordered_at < r.fx_end]
        f = f.semi_join(r, rated)
        return self._counts(f)

    # --- conversion -----------------------------------------------------------------------------

    def _rates(self) -> ir.Table:
        return ibis.memtable(
            pa.table(
                {
                    "fx_currency": pa.array([s.currency for s in self.fx], pa.string()),
                    "fx_start": pa.array([s.start for s in self.fx], pa.timestamp("us", tz="UTC")),
                    "fx_end": pa.array([s.end for s in self.fx], pa.timestamp("us", tz="UTC")),
                    "fx_first_day": pa.array([s.first_day for s in self.fx], pa.date32()),
                    "fx_end_day": pa.array([s.end_day for s in self.fx], pa.date32()),
                    "fx_rate": pa.array([s.rate for s in self.fx], pa.decimal128(18, 8)),
                }
            )
        )

    def _times(self, amount: ir.Value, rate: ir.Value) -> ir.Value:
        """An amount converted exactly (no rounding per fact: 4 + 8 places; the metric is rounded once).
        Widened first: DuckDB multiplies two DECIMAL(18, x) in 64 bits and overflows on large amounts.
        Without rates every counted row is in the reporting currency: the amount as stored (4 places)."""
        if not self.fx:
            return amount
        wide = "decimal(38, 8)"  # one type on both sides (Ibis types no product of two decimal types)
        return (amount.cast(wide) * rate.cast(wide)).cast("decimal(38, 12)")

    def _in_currency(self, t: ir.Table, at: str, currency: str, by_day: bool = False) -> ir.Table:
        """Rows of ``t`` that count in ``currency``, with the ``fx_rate`` to multiply their amounts by:
        1 for rows in it, the rate in effect at ``t[at]`` (an instant, or a local day with ``by_day``)
        for rows in another currency that has one; rows with no applicable rate are left out."""
        one = ibis.literal(Decimal(1), type="decimal(18, 8)")
        if not self.fx:
            return t.filter(t.currency == currency).mutate(fx_rate=one)
        # Spans of one currency do not overlap and none is in ``currency``: a row matches at most once.
        r = self._rates()
        if by_day:
            cond = [t.currency == r.fx_currency, t[at] >= r.fx_first_day, t[at] < r.fx_end_day]
        else:
            cond = [t.currency == r.fx_currency, t[at] >= r.fx_start, t[at] < r.fx_end]
        j = t.left_join(r, cond)
        j = j.filter((j.currency == currency) | j.fx_rate.notnull())
        return j.select(
            *[j[c] for c in t.columns], fx_rate=ibis.ifelse(j.currency == currency, one, j.fx_rate)
        )

    # --- computation ----------------------------------------------------------------------------

    def compute(
        self,
        family: Family,
        buckets: Sequence[Bucket],
        breakdown: Breakdown | None,
        currency: str,
        measures: Collection[str] | None = None,
    ) -> Cells:
        b = _buckets_table(buckets)
        self._span = (
            min(x.start for x in buckets),
            max(x.end for x in buckets),
            min(x.first_day for x in buckets),
            max(x.end_day for x in buckets),
        )
        if family is Family.sales:
            return self._sales(b, breakdown, currency)
        if family is Family.lines:
            return self._lines(b, breakdown, currency)
        if family is Family.refunds:
            return self._refunds(b, breakdown, currency)
        if family is Family.units:
            return self._units(b, breakdown, currency)
        if family is Family.traffic:
            return self._traffic(b, breakdown)
        return self._spend(b, breakdown, currency)

    def _bucketed(self, rows: ir.Table, b: ir.Table) -> ir.Table:
        """Rows joined to every bucket containing their ``ts`` (buckets may overlap: totals, last year).

        Rows outside the buckets' overall span are filtered first, so the range join only sees the
        facts of the requested periods.
        """
        lo, hi = self._span[0], self._span[1]
        rows = rows.filter(rows.ts >= lo, rows.ts < hi)
        return rows.join(b, [rows.ts >= b.b_start, rows.ts < b.b_end])

    def _campaign_keys(self) -> ir.Column:
        a = self._t("ad_spend")
        key = a.utm_source.concat(_SEP, a.utm_medium, _SEP, a.utm_campaign)
        return a.select(key=key).distinct().key

    def _orders(self, breakdown: Breakdown | None, currency: str) -> ir.Table:
        """Counted orders in ``currency`` with buyer, first-order flag, attribution flag and dimension."""
        all_orders = self._t("orders")
        counted = all_orders.filter(~all_orders.status.lower().isin(EXCLUDED_ORDER_STATUSES))
        counted = counted.mutate(
            buyer=ibis.coalesce(counted.customer_id, ibis.literal("anon:").concat(counted.anonymous_id))
        )
        firsts = (
            counted.filter(counted.buyer.notnull())
            .group_by(f_buyer=counted.buyer)
            .aggregate(first_at=counted.ordered_at.min())
        )
        o = self._in_currency(counted, "ordered_at", currency)
        o = o.left_join(firsts, o.buyer == firsts.f_buyer)
        utm = o.utm_source.concat(_SEP, o.utm_medium, _SEP, o.utm_campaign)
        dim_column = breakdown.orders if breakdown is not None and breakdown.orders else None
        return o.select(
            o_id=o.order_id,
            ts=o.ordered_at,
            buyer=o.buyer,
            is_first=(o.ordered_at == o.first_at).fill_null(False),
            amount=self._times(o.total, o.fx_rate),
            merch=self._times(o.subtotal - o.discount, o.fx_rate),
            rate=o.fx_rate,
            attributed=utm.isin(self._campaign_keys()).fill_null(False),
            dim=_dim(o[dim_column]) if dim_column else ibis.literal(NONE_LABEL),
        )

    def _sales(self, b: ir.Table, breakdown: Breakdown | None, currency: str) -> Cells:
        o = self._orders(breakdown, currency)
        if breakdown is not None and breakdown.items is not None:
            i = self._t("order_items")
            rows = i.join(o, i.order_id == o.o_id).select(
                o_id=o.o_id,
                ts=o.ts,
                buyer=o.buyer,
                is_first=o.is_first,
                amount=self._times(i.line_total, o.rate),
                merch=self._times(i.line_total, o.rate),
                rate=o.rate,
                attributed=o.attributed,
                dim=_dim(i[breakdown.items]),
            )
        else:
            rows = o
        j = self._bucketed(rows, b)
        totals = j.group_by(["b_label", "dim"]).aggregate(
            ordered_value=j.amount.sum(),
            merchandise_value=j.merch.sum(),
            order_count=j.o_id.nunique(),
            attributed_value=j.amount.sum(where=j.attributed),
        )
        per_buyer = (
            j.filter(j.buyer.notnull())
            .group_by(["b_label", "dim", "buyer"])
            .aggregate(n=j.o_id.nunique(), first=j.is_first.any(), value=j.amount.sum())
        )
        buyers = per_buyer.group_by(["b_label", "dim"]).aggregate(
            buyer_count=per_buyer.count(),
            buyer_ordered_value=per_buyer.value.sum(),
            repeat_buyer_count=per_buyer.count(where=per_buyer.n >= 2),
            new_buyer_count=per_buyer.count(where=per_buyer.first),
        )
        cells = self._cells(totals, breakdown)
        for key, values in self._cells(buyers, breakdown).items():
            cells.setdefault(key, {}).update(values)
        return cells

    def _lines(self, b: ir.Table, breakdown: Breakdown | None, currency: str) -> Cells:
        o = self._orders(breakdown, currency)
        i = self._t("order_items")
        p = self._t("products")
        p = p.select(p_id=p.product_id, p_cost=p.cost, p_currency=p.currency)
        j0 = i.join(o, i.order_id == o.o_id).left_join(p, i.product_id == p.p_id)
        dim = _dim(j0[breakdown.items]) if breakdown is not None and breakdown.items else j0.dim
        # A cost in the line's own (foreign) currency converts with the line; else it is taken as is.
        one = ibis.literal(Decimal(1), type="decimal(18, 8)")
        cost_rate = ibis.ifelse(j0.p_currency == j0.currency, j0.rate, one)
        rows = j0.select(
            ts=j0.ts,
            attributed=j0.attributed,
            value=self._times(j0.line_total, j0.rate),
            cost=self._times(j0.quantity.cast("decimal(18, 4)") * j0.p_cost, cost_rate),
            dim=dim,
        )
        j = self._bucketed(rows, b)
        zero = ibis.literal(Decimal(0), type="decimal(38, 4)")
        agg = j.group_by(["b_label", "dim"]).aggregate(
            line_value=j.value.sum(),
            line_cost=j.cost.sum().fill_null(zero),
            lines_without_cost=j.count(where=j.cost.isnull()),
            attributed_line_value=j.value.sum(where=j.attributed).fill_null(zero),
            attributed_line_cost=j.cost.sum(where=j.attributed).fill_null(zero),
            attributed_lines_without_cost=j.count(where=j.attributed & j.cost.isnull()),
        )
        return self._cells(agg, breakdown)

    def _refunds(self, b: ir.Table, breakdown: Breakdown | None, currency: str) -> Cells:
        r = self._in_currency(self._t("refunds"), "refunded_at", currency)
        r = r.mutate(amount=self._times(r.amount, r.fx_rate))
        if breakdown is None:
            rows = r.select(ts=r.refunded_at, amount=r.amount, units=r.quantity, dim=ibis.literal(NONE_LABEL))
        elif breakdown.id == "product":
            rows = r.select(ts=r.refunded_at, amount=r.amount, units=r.quantity, dim=_dim(r.product_id))
        elif breakdown.id == "category":
            p = self._t("products")
            p = p.select(p_id=p.product_id, p_category=p.category)
            jr = r.left_join(p, r.product_id == p.p_id)
            rows = jr.select(ts=jr.refunded_at, amount=jr.amount, units=jr.quantity, dim=_dim(jr.p_category))
        else:
            orders = self._t("orders")
            assert breakdown.orders is not None
            oo = orders.select(o_id=orders.order_id, o_dim=orders[breakdown.orders])
            jr = r.left_join(oo, r.order_id == oo.o_id)
            # A refund not tied to an order in the warehouse carries its own country (imports).
            o_dim = ibis.coalesce(jr.o_dim, jr.country) if breakdown.orders == "country" else jr.o_dim
            rows = jr.select(ts=jr.refunded_at, amount=jr.amount, units=jr.quantity, dim=_dim(o_dim))
        j = self._bucketed(rows, b)
        zero = ibis.literal(Decimal(0), type="decimal(38, 4)")
        agg = j.group_by(["b_label", "dim"]).aggregate(
            refund_value=j.amount.sum().fill_null(zero), units_refunded=j.units.sum().fill_null(0)
        )
        return self._cells(agg, breakdown)

    def _units(self, b: ir.Table, breakdown: Breakdown | None, currency: str) -> Cells:
        o = self._orders(breakdown, currency)
        i = self._t("order_items")
        j0 = i.join(o, i.order_id == o.o_id)
        dim = _dim(j0[breakdown.items]) if breakdown is not None and breakdown.items else j0.dim
        j = self._bucketed(j0.select(ts=j0.ts, units=j0.quantity, dim=dim), b)
        agg = j.group_by(["b_label", "dim"]).aggregate(units_sold=j.units.sum().fill_null(0))
        return self._cells(agg, breakdown)

    def _traffic(self, b: ir.Table, breakdown: Breakdown | None) -> Cells:
        e = self._t("events")
        is_visit = e.type.isin(VISIT_EVENT_TYPES)
        is_cart = (e.type == "track") & (e.event == ADD_TO_CART_EVENT)
        e = e.filter(is_visit | is_cart)
        column = breakdown.events if breakdown is not None else None
        rows = e.select(
            ts=e.ts,
            visitor=ibis.coalesce(e.anonymous_id, e.user_id),
            is_visit=e.type.isin(VISIT_EVENT_TYPES),
            is_cart=(e.type == "track") & (e.event == ADD_TO_CART_EVENT),
            dim=_dim(e[column]) if column else ibis.literal(NONE_LABEL),
        )
        j = self._bucketed(rows, b)
        # One row per visitor first: an add-to-cart counts only from a visitor who also visited (page or
        # screen) in the same bucket and breakdown value, so cart visitors are a subset of visitors.
        per_visitor = (
            j.filter(j.visitor.notnull())
            .group_by(["b_label", "dim", "visitor"])
            .aggregate(visited=j.is_visit.any(), carted=j.is_cart.any())
        )
        agg = per_visitor.group_by(["b_label", "dim"]).aggregate(
            visitor_count=per_visitor.count(where=per_visitor.visited),
            cart_visitor_count=per_visitor.count(where=per_visitor.visited & per_visitor.carted),
        )
        return self._cells(agg, breakdown)

    def _spend(self, b: ir.Table, breakdown: Breakdown | None, currency: str) -> Cells:
        a = self._in_currency(self._t("ad_spend"), "date", currency, by_day=True)
        a = a.mutate(spend=self._times(a.spend, a.fx_rate))
        column = breakdown.ad_spend if breakdown is not None else None
        rows = a.select(
            day=a.date, spend=a.spend, dim=_dim(a[column]) if column else ibis.literal(NONE_LABEL)
        )
        rows = rows.filter(rows.day >= self._span[2], rows.day < self._span[3])
        j = rows.join(b, [rows.day >= b.b_first_day, rows.day < b.b_end_day])
        agg = j.group_by(["b_label", "dim"]).aggregate(spend_value=j.spend.sum())
        return self._cells(agg, breakdown)

    def _cells(self, expr: ir.Table, breakdown: Breakdown | None) -> Cells:
        cells: Cells = {}
        for row in self._run(expr).to_pylist():
            label = row.pop("b_label")
            dim = row.pop("dim")
            key = (label, dim if breakdown is not None else None)
            cells[key] = {k: (v if v is not None else 0) for k, v in row.items()}
        return cells
