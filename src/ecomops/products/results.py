"""What the products explorer answers: typed results that the service returns, the API serialises (its
``response_model``), the CLI decodes from the server or gets from the service, and the console reads.

Money and rates are ``Decimal`` (JSON: the decimal string, as the API always answered), times are
``datetime``; the average rating is a float rounded to two places (a statistic, not money).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProductSummary(_Result):
    """One row of the list (the definitions are in ``products.service``'s module doc)."""

    product_id: str
    sku: str | None
    name: str | None
    name_en: str | None = Field(None, description="English name, when the catalogue has one")
    name_zh: str | None = Field(None, description="Chinese name, when the catalogue has one")
    category: str | None
    brand: str | None
    brand_zh: str | None = Field(None, description="Chinese brand name, when the catalogue has one")
    price: Decimal | None
    cost: Decimal | None
    currency: str | None
    status: str | None
    units_sold: int
    revenue: Decimal = Field(description="Sum of line totals of non-cancelled orders in the window")
    orders: int
    refunded: Decimal
    refunds: int
    gross_margin: Decimal | None = Field(description="revenue − units × cost; null when cost is unknown")
    margin_rate: Decimal | None
    stock_on_hand: int | None = Field(description="Latest inventory snapshot, all warehouses")
    stock_reserved: int | None
    stock_at: datetime | None
    review_count: int
    avg_rating: float | None


class ProductPage(_Result):
    items: list[ProductSummary]
    total: int
    limit: int
    offset: int
    sort: str
    filters: dict[str, str]


class ChannelSales(_Result):
    channel: str
    units_sold: int
    revenue: Decimal
    orders: int


class StockLevel(_Result):
    warehouse_code: str
    on_hand: int
    reserved: int
    snapshot_at: datetime


class ReviewBrief(_Result):
    review_id: str
    rating: int
    title: str | None
    body: str | None
    channel: str | None
    language: str | None
    created_at: datetime


class ProductDetail(ProductSummary):
    """A product's list figures plus sales by channel, stock by warehouse and recent reviews."""

    first_sold_at: datetime | None = Field(description="First order line of the product (all time)")
    last_sold_at: datetime | None = Field(description="Latest order line of the product (all time)")
    min_price: Decimal | None = Field(description="Lowest unit price sold at (free lines left out)")
    max_price: Decimal | None = Field(description="Highest unit price sold at")
    by_channel: list[ChannelSales]
    stock: list[StockLevel]
    rating_histogram: dict[int, int]
    recent_reviews: list[ReviewBrief]
    window: dict[str, str]


class TrendDay(_Result):
    """One local day of a product's trend (the previous period's day at the same position is beside it)."""

    day: date
    units_sold: int
    revenue: Decimal
    orders: int
    #: 'Product Viewed' / 'Product Added' track events naming the product (None: the shop has none).
    views: int | None
    add_to_cart: int | None
    previous_day: date
    previous_units_sold: int
    previous_revenue: Decimal
    previous_orders: int


class ProductTrend(_Result):
    product_id: str
    date_from: date
    date_to: date
    previous_from: date
    previous_to: date
    #: Whether the shop records product views / add-to-cart events at all.
    has_events: bool
    days: tuple[TrendDay, ...]
    total_units_sold: int
    total_revenue: Decimal
    total_orders: int
    previous_units_sold: int
    previous_revenue: Decimal
    previous_orders: int
