"""Run the whole model: calendar → catalogue and prices → ads and live shows → sessions and funnels →
customers → baskets → event timeline → stock allocation → orders, refunds, reviews → event masks.
Pure NumPy; nothing here touches a database."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ecomops.simulate.abuse import HOME_PAGE, RING_CATEGORY, RING_PRODUCTS, plan_ring
from ecomops.simulate.basket import Baskets, Demand, demand_weights, fill_baskets, sample_rows
from ecomops.simulate.calendar import Calendar, build_calendar
from ecomops.simulate.catalog import Catalog, build_catalog, category_share, daily_prices
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.competitors import CompetitorPrices, simulate_competitors
from ecomops.simulate.coupons import NEW_CUSTOMER
from ecomops.simulate.events import Events, build_events, mask_events
from ecomops.simulate.geo import WAREHOUSES, Geo, build_geo
from ecomops.simulate.live import Broadcasts, schedule_broadcasts
from ecomops.simulate.marketing import AdPlan, plan_ads
from ecomops.simulate.orders import Orders, build_orders, order_status
from ecomops.simulate.params import SeedParams, Shop, component_rng
from ecomops.simulate.people import (
    FIRST_ORDER_SHARE,
    FIRST_PURCHASE_SHARE,
    Customers,
    CustomerSplit,
    Ring,
    assign_known_sessions,
    build_customers,
    choose_signups,
    split_customers,
)
from ecomops.simulate.returns import Refunds, draw_refunds
from ecomops.simulate.reviews import Reviews, write_reviews
from ecomops.simulate.stock import StockResult, simulate_stock
from ecomops.simulate.timeline import (
    Timeline,
    plan_timeline,
)
from ecomops.simulate.traffic import (
    BASE_CONVERSION,
    CHANNEL_SHARE,
    Sessions,
    conversion_probability,
    funnel,
    landing_pages,
    session_counts,
    session_times,
    visitor_attributes,
)

#: Stock re-runs allowed for moving ring orders off empty shelves (one is almost always enough).
RING_REALLOCATION_ROUNDS = 8


@dataclass
class Simulation:
    params: SeedParams
    shop: Shop
    cal: Calendar
    geo: Geo
    catalog: Catalog
    prices: np.ndarray
    competitors: CompetitorPrices
    demand: Demand
    broadcasts: Broadcasts
    ads: AdPlan
    split: CustomerSplit
    sessions: Sessions
    customers: Customers
    ring: Ring
    baskets: Baskets
    timeline: Timeline
    stock: StockResult
    line_kept: np.ndarray  # per basket line
    session_warehouse: np.ndarray
    orders: Orders
    lines: np.ndarray  # kept basket lines, ordered by order
    line_order: np.ndarray  # order index of each kept line
    status: np.ndarray
    refunds: Refunds
    reviews: Reviews
    events: Events
    session_device_key: np.ndarray
    base_sessions_per_day: float

    @property
    def as_of_us(self) -> int:
        return int(self.cal.day_start_us[self.cal.days])


def calibrate_traffic(cal: Calendar, demand: Demand, split: CustomerSplit) -> float:
    """Base sessions per day so that first orders make up ``FIRST_ORDER_SHARE`` of all orders."""
    target_orders = FIRST_PURCHASE_SHARE * split.new_regular / FIRST_ORDER_SHARE
    mean_cr = float((CHANNEL_SHARE * BASE_CONVERSION).sum())
    per_base = float((cal.traffic * cal.conversion * demand.price_multiplier).sum()) * mean_cr
    return target_orders / per_base


def _permute(s: Sessions, order: np.ndarray) -> None:
    for f in fields(s):
        setattr(s, f.name, getattr(s, f.name)[order])


def build_sessions(
    params: SeedParams,
    shop: Shop,
    cal: Calendar,
    geo: Geo,
    catalog: Catalog,
    prices: np.ndarray,
    demand: Demand,
    ads: AdPlan,
    broadcasts: Broadcasts,
    base: float,
) -> tuple[Sessions, Ring, np.ndarray, np.ndarray, np.ndarray]:
    """All sessions (regular + the abuse ring), sorted by start time; also the ring's pinned basket
    (product, quantity per session) and the products it may fall back to."""
    rng = component_rng(params.seed, "sessions")
    day, channel, campaign, incremental = session_counts(rng, cal, ads, broadcasts.live_days(cal.days), base)
    start_us, live = session_times(rng, cal, day, channel, broadcasts)
    city, device, os_, locale = visitor_attributes(rng, geo, channel)
    landing, referrer = landing_pages(rng, channel, campaign, live)
    p = conversion_probability(cal, day, channel, campaign, live, demand.price_multiplier)
    converted = rng.random(len(day)) < p
    focus = np.where(
        converted, sample_rows(rng, demand.buying_mix, day), sample_rows(rng, demand.interest, day)
    ).astype(np.int8)
    views, clicks, added, checkout, n_items = funnel(rng, channel, converted, landing)
    split = split_customers(params.customers, params.days)
    ring, rs = plan_ring(component_rng(params.seed, "ring"), cal, geo, catalog, prices, shop, split.abusers)
    m = len(rs.day)
    ring_rng = component_rng(params.seed, "ring-sessions")
    ring_views = (1 + ring_rng.poisson(0.5, m)).astype(np.int16)

    def cat(a: np.ndarray, b: np.ndarray | int | float | bool, dtype: type | np.dtype) -> np.ndarray:
        return np.concatenate([a.astype(dtype), np.broadcast_to(np.asarray(b, dtype=dtype), (m,))])

    n = len(day)
    s = Sessions(
        day=cat(day, rs.day, np.int32),
        channel=cat(channel, rs.channel, np.int8),
        campaign=cat(campaign, -1, np.int8),
        incremental=cat(incremental, False, np.bool_),
        live=cat(live, -1, np.int32),
        start_us=cat(start_us, rs.start_us, np.int64),
        city=cat(city, ring.city, np.int16),
        device=cat(device, 0, np.int8),
        os=cat(os_, 1, np.int8),
        locale=cat(locale, 0, np.int8),
        landing=cat(landing, HOME_PAGE, np.int8),
        referrer=cat(referrer, -1, np.int8),
        p_conversion=cat(p, 1.0, np.float64),
        converted=cat(converted, True, np.bool_),
        focus=cat(focus, [c.key for c in CATEGORIES].index(RING_CATEGORY), np.int8),
        n_views=cat(views, ring_views, np.int16),
        n_clicks=cat(clicks, ring_rng.poisson(1.0, m), np.int16),
        added=cat(added, False, np.bool_),
        checkout=cat(checkout, False, np.bool_),
        n_items=cat(n_items, 1, np.int16),
        abuser=np.concatenate([np.zeros(n, dtype=bool), np.ones(m, dtype=bool)]),
        customer=np.full(n + m, -1, dtype=np.int64),
        signup=np.zeros(n + m, dtype=bool),
    )
    forced_product = np.concatenate([np.full(n, -1, dtype=np.int32), rs.product])
    forced_qty = np.concatenate([np.zeros(n, dtype=np.int16), rs.quantity])
    order = np.argsort(s.start_us, kind="stable")
    _permute(s, order)
    return s, ring, forced_product[order], forced_qty[order], rs.candidates


def session_devices(rng: np.random.Generator, s: Sessions, c: Customers) -> np.ndarray:
    """Pseudonymous device key per session: the customer's phone / computer, or a fresh visitor's."""
    key = rng.integers(1, 2**48, s.size)
    known = s.customer >= 0
    cust = s.customer[known]
    key[known] = np.where(s.device[known] == 1, c.device_key[cust] ^ 0x5A5A5A5A5A, c.device_key[cust])
    return key


def allocate_stock(
    params: SeedParams,
    shop: Shop,
    cal: Calendar,
    demand: Demand,
    catalog: Catalog,
    prices: np.ndarray,
    s: Sessions,
    b: Baskets,
    wh: np.ndarray,
    item_ts: np.ndarray,
    item_day: np.ndarray,
    eligible: np.ndarray,
    ring_candidates: np.ndarray,
) -> StockResult:
    """Run the stock simulation; if a ring account's pick was out of stock, it buys another qualifying
    product that was on the shelf (fraudsters take what is there) and the simulation runs again, so every
    planted ring order exists and stock stays exactly consistent with sales."""
    n_wh = len(WAREHOUSES)
    threshold = shop.cents(NEW_CUSTOMER.threshold)
    ring_lines = np.flatnonzero(s.abuser[b.item_session] & (item_ts < cal.day_start_us[cal.days]))
    for _ in range(RING_REALLOCATION_ROUNDS):
        stock = simulate_stock(
            component_rng(params.seed, "stock"),
            cal,
            demand.planning_signal(catalog),
            n_wh,
            b.item_product[eligible],
            wh[b.item_session[eligible]],
            b.item_quantity[eligible],
            item_ts[eligible],
            item_day[eligible],
        )
        kept = np.zeros(len(b.item_session), dtype=bool)
        kept[eligible] = stock.kept
        lost = ring_lines[~kept[ring_lines]]
        if len(lost) == 0 or len(ring_candidates) == 0:
            break
        for j, line in enumerate(lost):
            sess, day = b.item_session[line], item_day[line]
            price = prices[s.day[sess], ring_candidates]
            need = np.maximum(1, -(-threshold // price))
            shelf = stock.on_hand[max(day - 1, 0), ring_candidates * n_wh + wh[sess]] // need
            # Spread the lost orders over the best-stocked products (stable sort: popularity breaks ties).
            best = np.argsort(-shelf, kind="stable")[:RING_PRODUCTS]
            pick = int(best[j % len(best)])
            b.item_product[line] = ring_candidates[pick]
            b.view_product[b.view_start[sess]] = ring_candidates[pick]
            b.item_price[line] = price[pick]
            b.item_quantity[line] = need[pick]
    return stock


def simulate(params: SeedParams, shop: Shop) -> Simulation:
    params = params.validated()
    seed = params.seed
    cal = build_calendar(params.start_date, params.days, shop.timezone)
    geo = build_geo()
    catalog = build_catalog(component_rng(seed, "catalog"), shop)
    prices = daily_prices(component_rng(seed, "prices"), cal, catalog)
    competitors = simulate_competitors(component_rng(seed, "competitors"), cal, catalog)
    demand = demand_weights(catalog, prices, competitors.demand_effect, category_share(cal))
    broadcasts = schedule_broadcasts(component_rng(seed, "live"), cal)
    split = split_customers(params.customers, params.days)
    base = calibrate_traffic(cal, demand, split)
    ads = plan_ads(component_rng(seed, "ads"), cal, shop, base, broadcasts.live_days(cal.days))
    s, ring, forced_product, forced_qty, ring_candidates = build_sessions(
        params, shop, cal, geo, catalog, prices, demand, ads, broadcasts, base
    )
    signups, deficit = choose_signups(component_rng(seed, "signups"), s, split)
    customers = build_customers(
        component_rng(seed, "customers"), cal, geo, s, signups, split.base + deficit, ring
    )
    assign_known_sessions(component_rng(seed, "assignment"), cal, s, customers)
    b = fill_baskets(
        component_rng(seed, "baskets"),
        catalog,
        demand,
        prices,
        s.day,
        s.focus,
        s.converted,
        s.n_views,
        s.n_items,
        forced_product,
        forced_qty,
    )
    tl = plan_timeline(
        component_rng(seed, "timeline"),
        s.start_us,
        s.n_clicks,
        s.n_views,
        s.converted,
        s.added,
        s.checkout,
        s.signup,
        b.view_start,
        b.item_start,
    )
    n_wh = len(WAREHOUSES)
    wh = geo.city_warehouse[s.city].astype(np.int64)
    as_of = int(cal.day_start_us[cal.days])
    item_ts = tl.order_ts[b.item_session]
    eligible = np.flatnonzero(item_ts < as_of)
    item_day = np.clip(np.searchsorted(cal.day_start_us, item_ts, side="right") - 1, 0, cal.days - 1)
    stock = allocate_stock(
        params, shop, cal, demand, catalog, prices, s, b, wh, item_ts, item_day, eligible, ring_candidates
    )
    kept = np.zeros(len(b.item_session), dtype=bool)
    kept[eligible] = stock.kept
    line_total = b.item_quantity.astype(np.int64) * b.item_price
    orders = build_orders(
        component_rng(seed, "orders"),
        cal,
        shop,
        s.size,
        tl.order_ts,
        s.channel,
        s.day,
        s.live,
        s.signup,
        s.abuser,
        b.item_session,
        line_total,
        b.item_quantity,
        kept,
    )
    lines = np.flatnonzero(kept)
    line_order = orders.of_session[b.item_session[lines]]
    by_order = np.argsort(line_order, kind="stable")
    lines, line_order = lines[by_order], line_order[by_order]
    prod = b.item_product[lines]
    category = catalog.category[prod].astype(np.int64)
    excluded = s.abuser[b.item_session[lines]]
    refunds = draw_refunds(
        component_rng(seed, "refunds"),
        as_of,
        category,
        catalog.quality[prod],
        line_total[lines],
        orders.subtotal[line_order],
        orders.discount[line_order],
        orders.paid_at[line_order],
        excluded,
    )
    refunded_lines = np.bincount(line_order[refunds.line], minlength=orders.size)
    status = order_status(cal, orders, refunded_lines)
    refunded_at = np.full(len(lines), -1, dtype=np.int64)
    refunded_at[refunds.line] = refunds.refunded_at
    buyer_locale = customers.locale[s.customer[orders.session[line_order]]]
    reviews = write_reviews(
        component_rng(seed, "reviews"),
        as_of,
        category,
        catalog.quality[prod],
        orders.paid_at[line_order],
        refunded_at,
        buyer_locale,
        excluded,
    )
    keep, in_stock = mask_events(cal, tl, s, b, kept, orders, stock, wh, n_wh)
    events = build_events(
        component_rng(seed, "events"), s, b, tl, keep, in_stock, prices, orders, refunds, lines, line_order
    )
    return Simulation(
        params,
        shop,
        cal,
        geo,
        catalog,
        prices,
        competitors,
        demand,
        broadcasts,
        ads,
        split,
        s,
        customers,
        ring,
        b,
        tl,
        stock,
        kept,
        wh,
        orders,
        lines,
        line_order,
        status,
        refunds,
        reviews,
        events,
        session_devices(component_rng(seed, "devices"), s, customers),
        base,
    )
