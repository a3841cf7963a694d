"""The metric catalogue: every KPI defined once, here, with its names, unit, formula and exact rules.

Metrics are declarative. A metric names the *base measures* it needs (additive sums and distinct
counts a measure source computes per time bucket and breakdown value) and a pure function that
combines them. Ratios are therefore always computed from the numerator and denominator of the same
bucket, never by averaging daily ratios. The engine, the API, the CLI and ``docs/metrics.md``
(generated from this module by ``python -m ecomops.analytics.docs``) all read these definitions, so a
definition cannot drift between what is computed and what is documented.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum, StrEnum

from ecomops.analytics.results import Catalogue, CatalogueMetric
from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.money import MONEY_QUANT

#: Order statuses that never became a sale: such orders count nowhere (GMV, orders, buyers, margin).
#: Refunded and partially refunded orders *do* count as ordered value; their refunds are subtracted
#: in net sales on the day of the refund. Every other status (pending, paid, shipped, completed…) counts.
EXCLUDED_ORDER_STATUSES: tuple[str, ...] = ("cancelled", "canceled", "voided")

#: Event types that make someone a visitor, and the event that marks an add-to-cart.
VISIT_EVENT_TYPES: tuple[str, ...] = ("page", "screen")
ADD_TO_CART_EVENT = "Product Added"
#: Track events of the conversion funnel's other steps (``analytics.funnel``).
PRODUCT_VIEWED_EVENT = "Product Viewed"
CHECKOUT_EVENT = "Checkout Started"
ORDER_EVENT = "Order Completed"

#: Label of a breakdown value that is missing in the data.
NONE_LABEL = "(none)"


class Unit(Enum):
    """Plain Enum, not StrEnum: a member named ``count`` would shadow ``str.count``."""

    money = "money"  # Decimal in the reporting currency; a string in JSON
    count = "count"  # integer
    ratio = "ratio"  # a fraction (0.034 = 3.4 %), a number in JSON


class Family(StrEnum):
    """Which facts a base measure is computed from; availability is decided per family."""

    sales = "sales"  # orders (or their lines, for product/category breakdowns)
    lines = "lines"  # order lines with product cost
    refunds = "refunds"
    units = "units"  # order lines' quantities (no product cost needed)
    traffic = "traffic"  # page/screen/track events
    spend = "spend"  # ad_spend


@dataclass(frozen=True)
class BaseMeasure:
    id: str
    family: Family
    unit: Unit
    definition: str


BASE_MEASURES: dict[str, BaseMeasure] = {
    m.id: m
    for m in (
        BaseMeasure(
            "ordered_value",
            Family.sales,
            Unit.money,
            "Σ orders.total of counted orders placed in the bucket (after order discounts, with shipping "
            "and tax); with a product/category breakdown Σ order_items.line_total of their lines",
        ),
        BaseMeasure(
            "merchandise_value",
            Family.sales,
            Unit.money,
            "Σ (subtotal − discount) of counted orders placed in the bucket (no shipping, no tax); with a "
            "product/category breakdown Σ line_total",
        ),
        BaseMeasure("order_count", Family.sales, Unit.count, "distinct counted orders placed in the bucket"),
        BaseMeasure(
            "buyer_count",
            Family.sales,
            Unit.count,
            "distinct buyers of counted orders in the bucket; a buyer is orders.customer_id, else the "
            "order's anonymous_id; orders with neither (guest checkouts in imports) have no buyer",
        ),
        BaseMeasure(
            "buyer_ordered_value",
            Family.sales,
            Unit.money,
            "ordered_value of the counted orders that have a buyer (customer_id or anonymous_id): the "
            "orders buyer_count counts, without guest checkouts; with a product/category breakdown "
            "Σ line_total of their lines",
        ),
        BaseMeasure(
            "repeat_buyer_count",
            Family.sales,
            Unit.count,
            "buyers with two or more counted orders in the same bucket (and breakdown value)",
        ),
        BaseMeasure(
            "new_buyer_count",
            Family.sales,
            Unit.count,
            "buyers who placed their first counted order ever in this tenant (all history, any "
            "currency) within the bucket and breakdown value",
        ),
        BaseMeasure(
            "attributed_value",
            Family.sales,
            Unit.money,
            "ordered value of counted orders whose (utm_source, utm_medium, utm_campaign) is a campaign "
            "that has rows in ad_spend (last-click attribution through the order's UTM)",
        ),
        BaseMeasure(
            "line_value", Family.lines, Unit.money, "Σ order_items.line_total of lines of counted orders"
        ),
        BaseMeasure(
            "line_cost",
            Family.lines,
            Unit.money,
            "Σ quantity × products.cost of those lines whose product has a cost",
        ),
        BaseMeasure(
            "lines_without_cost",
            Family.lines,
            Unit.count,
            "lines whose product is unknown or has no cost",
        ),
        BaseMeasure(
            "attributed_line_value",
            Family.lines,
            Unit.money,
            "line_value of attributed orders (see attributed_value)",
        ),
        BaseMeasure("attributed_line_cost", Family.lines, Unit.money, "line_cost of attributed orders"),
        BaseMeasure(
            "attributed_lines_without_cost",
            Family.lines,
            Unit.count,
            "lines_without_cost of attributed orders",
        ),
        BaseMeasure(
            "refund_value",
            Family.refunds,
            Unit.money,
            "Σ refunds.amount of refunds made in the bucket (by refunded_at, whatever the order's date); "
            "breakdown values come from the refunded order (product: the refund's product; category: that "
            "product's category; country: the refund's own country when its order is not in the warehouse, "
            "e.g. an imported cancellation that matched no sale); a refund whose amount is still unknown "
            "counts 0. Only money given back to customers: platform fees, commissions, adjustments, "
            "postage and discounts of imports are order_charges, not refunds",
        ),
        BaseMeasure(
            "units_refunded",
            Family.refunds,
            Unit.count,
            "Σ refunds.quantity of refunds made in the bucket (by refunded_at), with the breakdown values "
            "of refund_value; refunds without a quantity (whole-order refunds) count 0",
        ),
        BaseMeasure(
            "units_sold",
            Family.units,
            Unit.count,
            "Σ order_items.quantity of the lines of counted orders placed in the bucket (non-product lines "
            "such as postage, fees or adjustments are not order lines)",
        ),
        BaseMeasure(
            "visitor_count",
            Family.traffic,
            Unit.count,
            "distinct visitors (anonymous_id, else user_id) with a page or screen event in the bucket",
        ),
        BaseMeasure(
            "cart_visitor_count",
            Family.traffic,
            Unit.count,
            "distinct visitors with both a page or screen event and a 'Product Added' track event in the "
            "bucket (and breakdown value): the visitors of visitor_count who added to cart; someone "
            "adding to cart without a visit there (a server-side event, another channel) is not counted",
        ),
        BaseMeasure(
            "spend_value",
            Family.spend,
            Unit.money,
            "Σ ad_spend.spend of the bucket's days (ad_spend.date is a day in the tenant's time zone, taken "
            "as it is even when timezone= asks for buckets in another zone)",
        ),
    )
}


Value = Decimal | int | None
Values = Mapping[str, Value]


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANT, rounding=ROUND_HALF_EVEN)


def _div(numerator: Value, denominator: Value) -> Decimal | None:
    """numerator / denominator, or None when either is unknown or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


def measure(name: str) -> Callable[[Values], Value]:
    def combine(v: Values) -> Value:
        return v[name]

    return combine


def money_ratio(numerator: str, denominator: str) -> Callable[[Values], Value]:
    def combine(v: Values) -> Value:
        q = _div(v[numerator], v[denominator])
        return None if q is None else _money(q)

    return combine


def ratio(numerator: str, denominator: str) -> Callable[[Values], Value]:
    def combine(v: Values) -> Value:
        return _div(v[numerator], v[denominator])

    return combine


def _net_sales(v: Values) -> Value:
    merch, refunds = v["merchandise_value"], v["refund_value"]
    if merch is None or refunds is None:
        return None
    return _money(Decimal(merch) - Decimal(refunds))


def _returning_buyers(v: Values) -> Value:
    buyers, new = v["buyer_count"], v["new_buyer_count"]
    if buyers is None or new is None:
        return None
    return int(buyers) - int(new)


def _gross_profit(v: Values) -> Decimal | None:
    missing, value, cost = v["lines_without_cost"], v["line_value"], v["line_cost"]
    if missing is None or missing != 0 or value is None or cost is None:
        return None
    return Decimal(value) - Decimal(cost)


def _gross_profit_metric(v: Values) -> Value:
    profit = _gross_profit(v)
    return None if profit is None else _money(profit)


def _gross_margin(v: Values) -> Value:
    return _div(_gross_profit(v), v["line_value"])


def _roi(v: Values) -> Value:
    missing = v["attributed_lines_without_cost"]
    value, cost, spend = v["attributed_line_value"], v["attributed_line_cost"], v["spend_value"]
    if missing is None or missing != 0 or value is None or cost is None:
        return None
    return _div(Decimal(value) - Decimal(cost) - Decimal(spend or 0), spend)


@dataclass(frozen=True)
class Metric:
    """One KPI: ids are stable API names; ``formula`` and ``description`` are the documentation."""

    id: str
    name_en: str
    name_zh: str
    unit: Unit
    formula: str
    description: str
    measures: tuple[str, ...]
    combine: Callable[[Values], Value]

    def compute(self, values: Values) -> Value:
        return self.combine(values)


METRICS: tuple[Metric, ...] = (
    Metric(
        "gmv",
        "GMV",
        "成交总额 (GMV)",
        Unit.money,
        "ordered_value",
        "Value of orders placed in the period: order totals after order discounts, with shipping and tax, "
        "of every order whose status is not cancelled/canceled/voided. Refunded orders stay in GMV "
        "(their refunds reduce net sales). By product or category: the lines' line_total.",
        ("ordered_value",),
        measure("ordered_value"),
    ),
    Metric(
        "net_sales",
        "Net sales",
        "净销售额",
        Unit.money,
        "merchandise_value − refund_value",
        "Merchandise value after discounts (subtotal − discount, no shipping or tax) of orders placed in "
        "the period, minus refunds made in the period (refunds count on the day they are made, like "
        "returns in accounting, so a period's net sales can be negative).",
        ("merchandise_value", "refund_value"),
        _net_sales,
    ),
    Metric(
        "orders",
        "Orders",
        "订单数",
        Unit.count,
        "order_count",
        "Orders placed in the period (cancelled/canceled/voided excluded). By product or category: orders "
        "containing that product or category.",
        ("order_count",),
        measure("order_count"),
    ),
    Metric(
        "buyers",
        "Buyers",
        "买家数",
        Unit.count,
        "buyer_count",
        "Distinct buyers with an order in the period: the order's customer_id, else its anonymous_id. "
        "Guest orders with neither are in GMV and orders but not in buyers (nor in gmv_per_buyer).",
        ("buyer_count",),
        measure("buyer_count"),
    ),
    Metric(
        "aov",
        "Average order value",
        "客单价（笔单价）",
        Unit.money,
        "ordered_value / order_count",
        "GMV per order. Numerator and denominator: every counted order, guest checkouts included. "
        "Taobao's 客单价 is per buyer: that is gmv_per_buyer.",
        ("ordered_value", "order_count"),
        money_ratio("ordered_value", "order_count"),
    ),
    Metric(
        "gmv_per_buyer",
        "GMV per buyer",
        "人均消费（淘宝口径客单价）",
        Unit.money,
        "buyer_ordered_value / buyer_count",
        "GMV of the orders that have a buyer, per buyer: numerator and denominator cover the same orders. "
        "Guest checkouts (no customer_id, no anonymous_id) have no buyer, so their value is left out "
        "here rather than spread over the other buyers (on Online Retail II that overstated GMV per "
        "buyer by about a fifth); they stay in gmv, orders and aov.",
        ("buyer_ordered_value", "buyer_count"),
        money_ratio("buyer_ordered_value", "buyer_count"),
    ),
    Metric(
        "visitors",
        "Visitors (UV)",
        "访客数 (UV)",
        Unit.count,
        "visitor_count",
        "Distinct visitors (anonymous_id, else user_id) with a page or screen event in the period. Needs "
        "events from the event API; null with a reason for tenants that only import orders. Not available "
        "by product or category.",
        ("visitor_count",),
        measure("visitor_count"),
    ),
    Metric(
        "conversion_rate",
        "Conversion rate",
        "转化率",
        Unit.ratio,
        "buyer_count / visitor_count",
        "Buyers per visitor in the same period and breakdown value, Taobao's 转化率 (支付买家数 / 访客数). "
        "Two populations: buyers come from orders (any channel, imports included), visitors from page "
        "and screen events, and orders carry no visit to link them; so it is null for tenants without "
        "page events, and can exceed 1 where orders arrive from outside the tracked site.",
        ("buyer_count", "visitor_count"),
        ratio("buyer_count", "visitor_count"),
    ),
    Metric(
        "uv_value",
        "UV value",
        "UV价值",
        Unit.money,
        "ordered_value / visitor_count",
        "GMV per visitor (Taobao's UV价值 = 支付金额 / 访客数). Like conversion_rate it divides an order "
        "measure (every counted order) by an event measure (visitors with a page or screen event).",
        ("ordered_value", "visitor_count"),
        money_ratio("ordered_value", "visitor_count"),
    ),
    Metric(
        "add_to_cart_rate",
        "Add-to-cart rate",
        "加购率",
        Unit.ratio,
        "cart_visitor_count / visitor_count",
        "Share of visitors who added a product to the cart ('Product Added' event) in the period. Both "
        "counts are visitors with a page or screen event in the same period and breakdown value, so it "
        "never exceeds 1: a 'Product Added' from someone without a visit there is not counted.",
        ("cart_visitor_count", "visitor_count"),
        ratio("cart_visitor_count", "visitor_count"),
    ),
    Metric(
        "refunds",
        "Refunds",
        "退款金额",
        Unit.money,
        "refund_value",
        "Money refunded in the period (by refund date), whatever the date of the order.",
        ("refund_value",),
        measure("refund_value"),
    ),
    Metric(
        "units_sold",
        "Units sold",
        "销量（件数）",
        Unit.count,
        "units_sold",
        "Units on the order lines of orders placed in the period (cancelled/canceled/voided excluded), "
        "before refunds. By product or category: that product's or category's lines, so the top products "
        "by units are one request (breakdown=product).",
        ("units_sold",),
        measure("units_sold"),
    ),
    Metric(
        "units_refunded",
        "Units refunded",
        "退货件数",
        Unit.count,
        "units_refunded",
        "Units refunded in the period (by refund date), whatever the date of the order; whole-order refunds "
        "without a quantity count 0. By product: the refund's product.",
        ("units_refunded",),
        measure("units_refunded"),
    ),
    Metric(
        "refund_rate",
        "Refund rate",
        "退款率",
        Unit.ratio,
        "refund_value / ordered_value",
        "Money refunded to customers in the period per unit of GMV placed in the period (by amount, not by "
        "order count). A flow ratio: both are the period's own money in the reporting currency, but the "
        "refunds may belong to orders of earlier periods, so it is not the share of this period's orders "
        "refunded. Fees, commissions and adjustments of imported exports are not refunds (see refund_value), "
        "so they do not raise it.",
        ("refund_value", "ordered_value"),
        ratio("refund_value", "ordered_value"),
    ),
    Metric(
        "repurchase_rate",
        "Repurchase rate",
        "复购率",
        Unit.ratio,
        "repeat_buyer_count / buyer_count",
        "Share of the period's buyers who placed two or more orders within the period (and breakdown "
        "value). Both counts are buyers (guest checkouts are in neither). Longer periods therefore have "
        "higher repurchase rates.",
        ("repeat_buyer_count", "buyer_count"),
        ratio("repeat_buyer_count", "buyer_count"),
    ),
    Metric(
        "new_buyers",
        "New buyers",
        "新买家数",
        Unit.count,
        "new_buyer_count",
        "Buyers whose first order ever in this tenant (all history) was placed in the period. With a "
        "breakdown: whose first order ever is in that breakdown value.",
        ("new_buyer_count",),
        measure("new_buyer_count"),
    ),
    Metric(
        "returning_buyers",
        "Returning buyers",
        "老买家数",
        Unit.count,
        "buyer_count − new_buyer_count",
        "Buyers of the period who are not new buyers of the same period and breakdown value.",
        ("buyer_count", "new_buyer_count"),
        _returning_buyers,
    ),
    Metric(
        "new_buyer_share",
        "New buyer share",
        "新买家占比",
        Unit.ratio,
        "new_buyer_count / buyer_count",
        "Share of the period's buyers who are new buyers (both counts are buyers; guests are in neither).",
        ("new_buyer_count", "buyer_count"),
        ratio("new_buyer_count", "buyer_count"),
    ),
    Metric(
        "gross_profit",
        "Gross profit",
        "毛利",
        Unit.money,
        "line_value − line_cost",
        "Line totals minus quantity × products.cost of the period's order lines (before refunds). Null "
        "where any line's product has no cost, rather than a profit that silently ignores those lines.",
        ("line_value", "line_cost", "lines_without_cost"),
        _gross_profit_metric,
    ),
    Metric(
        "gross_margin",
        "Gross margin",
        "毛利率",
        Unit.ratio,
        "(line_value − line_cost) / line_value",
        "Gross profit per unit of line value; null where any line's product has no cost.",
        ("line_value", "line_cost", "lines_without_cost"),
        _gross_margin,
    ),
    Metric(
        "ad_spend",
        "Ad spend",
        "广告花费",
        Unit.money,
        "spend_value",
        "Advertising spend of the period's days (ad_spend is daily: not available by hour, nor by product, "
        "category, region, country or device).",
        ("spend_value",),
        measure("spend_value"),
    ),
    Metric(
        "attributed_revenue",
        "Attributed revenue",
        "广告成交额",
        Unit.money,
        "attributed_value",
        "GMV of orders whose UTM source/medium/campaign names a campaign with ad spend (last click).",
        ("attributed_value",),
        measure("attributed_value"),
    ),
    Metric(
        "roas",
        "ROAS",
        "广告投产比 (ROAS)",
        Unit.ratio,
        "attributed_value / spend_value",
        "Attributed revenue per unit of ad spend in the same period and breakdown value (channel, source "
        "and campaign match the order's and the spend's own columns). Last-click: it overstates campaigns "
        "that take credit for sales that would have happened anyway.",
        ("attributed_value", "spend_value"),
        ratio("attributed_value", "spend_value"),
    ),
    Metric(
        "roi",
        "ROI",
        "投资回报率 (ROI)",
        Unit.ratio,
        "(attributed_line_value − attributed_line_cost − spend_value) / spend_value",
        "Return on ad spend after the cost of the goods sold: attributed gross profit minus spend, per "
        "unit of spend (0 = break-even). Null where an attributed line's product has no cost.",
        ("attributed_line_value", "attributed_line_cost", "attributed_lines_without_cost", "spend_value"),
        _roi,
    ),
    Metric(
        "cac",
        "Customer acquisition cost",
        "获客成本 (CAC)",
        Unit.money,
        "spend_value / new_buyer_count",
        "Ad spend per new buyer in the same period and breakdown value (all new buyers, paid or organic: "
        "a blended CAC).",
        ("spend_value", "new_buyer_count"),
        money_ratio("spend_value", "new_buyer_count"),
    ),
)

METRICS_BY_ID: dict[str, Metric] = {m.id: m for m in METRICS}


@dataclass(frozen=True)
class Breakdown:
    """A dimension to split metrics by, and the column that carries it in each fact table."""

    id: str
    description: str
    orders: str | None  # column of orders (sales, lines, refunds via the refunded order)
    items: str | None  # column of order_items when the dimension is a line's (product, category)
    events: str | None  # column of events (traffic); None = visitors cannot be split this way
    ad_spend: str | None  # column of ad_spend; None = spend cannot be split this way

    @property
    def line_level(self) -> bool:
        return self.items is not None


BREAKDOWNS: dict[str, Breakdown] = {
    b.id: b
    for b in (
        Breakdown(
            "channel",
            "sales channel (web, wechat_mini, douyin, tmall, jd, …)",
            "channel",
            None,
            "channel",
            "channel",
        ),
        Breakdown("source", "UTM source (utm_source)", "utm_source", None, "utm_source", "utm_source"),
        Breakdown(
            "campaign", "UTM campaign (utm_campaign)", "utm_campaign", None, "utm_campaign", "utm_campaign"
        ),
        Breakdown("product", "product id of the order line", None, "product_id", None, None),
        Breakdown(
            "category", "category of the order line (order_items.category)", None, "category", None, None
        ),
        Breakdown("region", "region/province of the order or event", "region", None, "region", None),
        Breakdown("country", "country of the order or event", "country", None, "country", None),
        Breakdown("device", "device type (mobile, desktop, tablet)", "device", None, "device", None),
    )
}


def parse_ids(ids: list[str] | str) -> list[str]:
    """Metric ids from a list or a comma-separated string, in order, without duplicates; 422 if unknown."""
    parts = ids.split(",") if isinstance(ids, str) else [p for item in ids for p in item.split(",")]
    wanted = [p.strip() for p in parts if p.strip()]
    if not wanted:
        raise ValidationFailed(
            "ids: name at least one metric id", {"field": "ids", "known": list(METRICS_BY_ID)}
        )
    unknown = [p for p in wanted if p not in METRICS_BY_ID]
    if unknown:
        raise ValidationFailed(
            f"ids: unknown metric id(s) {', '.join(repr(u) for u in unknown)}; "
            f"known: {', '.join(METRICS_BY_ID)}",
            {"field": "ids", "unknown": unknown, "known": list(METRICS_BY_ID)},
        )
    return list(dict.fromkeys(wanted))


def parse_breakdown(breakdown: str | None) -> Breakdown | None:
    if breakdown is None or breakdown.strip() == "":
        return None
    found = BREAKDOWNS.get(breakdown.strip())
    if found is None:
        raise ValidationFailed(
            f"breakdown: unknown breakdown {breakdown!r}; known: {', '.join(BREAKDOWNS)}",
            {"field": "breakdown", "unknown": breakdown, "known": list(BREAKDOWNS)},
        )
    return found


def catalogue() -> Catalogue:
    """Every definition (API ``/metrics/catalogue`` and ``ecomops metrics --list``)."""
    return Catalogue(
        metrics=tuple(
            CatalogueMetric(m.id, m.name_en, m.name_zh, m.unit.value, m.formula, m.description, m.measures)
            for m in METRICS
        ),
        base_measures={m.id: m.definition for m in BASE_MEASURES.values()},
        breakdowns={b.id: b.description for b in BREAKDOWNS.values()},
        granularities=("hour", "day", "week", "month"),
    )


def _check_catalogue() -> None:
    """Fail at import on a metric naming an unknown base measure (else a KeyError mid-request)."""
    for metric in METRICS:
        missing = [m for m in metric.measures if m not in BASE_MEASURES]
        if missing:
            raise RuntimeError(f"metric {metric.id!r} uses unknown base measures {missing}")


_check_catalogue()
