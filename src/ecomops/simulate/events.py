"""The final event stream: which planned events happened (stock-outs remove adds and orders, only used
coupons show, nothing after the window's end) and what each carries (product, price, order, click x/y);
refunds become server-side events outside any session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.basket import Baskets
from ecomops.simulate.calendar import US_PER_SECOND, Calendar
from ecomops.simulate.hotspots import sample_add_to_cart, sample_clicks
from ecomops.simulate.orders import Orders
from ecomops.simulate.returns import Refunds
from ecomops.simulate.stock import StockResult, out_of_stock
from ecomops.simulate.timeline import ADD, CHECKOUT, CLICK, COUPON, IDENTIFY, ORDER, VIEW, Timeline
from ecomops.simulate.traffic import CHANNELS, SCREENS, Sessions

REFUND = 8  # event kind appended after the session kinds (timeline.KINDS)


@dataclass
class Events:
    """The final event stream (session events that survived the masks, then refund events)."""

    session: np.ndarray
    kind: np.ndarray
    ts: np.ndarray
    received_lag_us: np.ndarray
    product: np.ndarray  # -1 none
    quantity: np.ndarray
    price: np.ndarray  # cents: unit price for product events, order total for orders, refund amount
    order: np.ndarray  # -1 none
    refund: np.ndarray  # -1 none
    in_stock: np.ndarray
    x: np.ndarray  # NaN none
    y: np.ndarray
    element: np.ndarray  # -1 none
    user_visible: np.ndarray

    @property
    def size(self) -> int:
        return len(self.session)


def mask_events(
    sim_cal: Calendar,
    tl: Timeline,
    s: Sessions,
    b: Baskets,
    kept: np.ndarray,
    orders: Orders,
    stock: StockResult,
    wh: np.ndarray,
    n_wh: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Which planned events happened (stock-outs remove adds and orders, only used coupons show, nothing
    after the window's end), and the in-stock flag of product events."""
    as_of = sim_cal.day_start_us[sim_cal.days]
    sess, kind = tl.session, tl.kind
    keep = tl.ts < as_of
    has_order = orders.of_session[sess] >= 0
    buyer = s.converted[sess]
    product = np.full(tl.size, -1, dtype=np.int64)
    view_like = (kind == VIEW) | ((kind == ADD) & ~buyer)
    product[view_like] = b.view_product[tl.ref[view_like]]
    buyer_add = (kind == ADD) & buyer
    product[buyer_add] = b.item_product[tl.ref[buyer_add]]
    in_stock = np.ones(tl.size, dtype=bool)
    has_product = product >= 0
    in_stock[has_product] = ~out_of_stock(
        stock, product[has_product] * n_wh + wh[sess[has_product]], tl.ts[has_product]
    )
    keep[buyer_add] &= kept[tl.ref[buyer_add]]
    browser_add_ok = np.ones(s.size, dtype=bool)
    browser_add = (kind == ADD) & ~buyer
    browser_add_ok[sess[browser_add]] = in_stock[browser_add]
    keep &= ~browser_add | in_stock
    checkout = kind == CHECKOUT
    keep &= ~checkout | np.where(buyer, has_order, browser_add_ok[sess])
    order_idx = orders.of_session[sess]
    keep &= ~(kind == ORDER) | has_order
    keep &= ~(kind == COUPON) | (has_order & (orders.coupon[np.maximum(order_idx, 0)] >= 0))
    in_stock[buyer_add] = True
    return keep, in_stock


def build_events(
    rng: np.random.Generator,
    s: Sessions,
    b: Baskets,
    tl: Timeline,
    keep: np.ndarray,
    in_stock: np.ndarray,
    prices: np.ndarray,
    orders: Orders,
    refunds: Refunds,
    lines: np.ndarray,
    line_order: np.ndarray,
) -> Events:
    """Surviving session events with their product, price, order and click coordinates, then one
    server-side 'Order Refunded' event per refund (attributed to the buyer, outside any session)."""
    idx = np.flatnonzero(keep)
    sess, kind, ref = tl.session[idx], tl.kind[idx], tl.ref[idx]
    n = len(idx)
    buyer = s.converted[sess]
    product = np.full(n, -1, dtype=np.int64)
    quantity = np.zeros(n, dtype=np.int64)
    price = np.zeros(n, dtype=np.int64)
    view_like = (kind == VIEW) | ((kind == ADD) & ~buyer)
    product[view_like] = b.view_product[ref[view_like]]
    price[view_like] = prices[s.day[sess[view_like]], product[view_like]]
    quantity[view_like & (kind == ADD)] = 1
    buyer_add = (kind == ADD) & buyer
    product[buyer_add] = b.item_product[ref[buyer_add]]
    quantity[buyer_add] = b.item_quantity[ref[buyer_add]]
    price[buyer_add] = b.item_price[ref[buyer_add]]
    order = np.full(n, -1, dtype=np.int64)
    in_order = buyer & ((kind == CHECKOUT) | (kind == COUPON) | (kind == ORDER))
    order[in_order] = orders.of_session[sess[in_order]]
    price[kind == ORDER] = orders.total[order[kind == ORDER]]
    screen = SCREENS[s.device[sess]]
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    element = np.full(n, -1, dtype=np.int16)
    click = kind == CLICK
    x[click], y[click], element[click] = sample_clicks(
        rng, s.landing[sess[click]], screen[click, 0], screen[click, 1]
    )
    add = kind == ADD
    x[add], y[add] = sample_add_to_cart(rng, screen[add, 0], screen[add, 1])
    user_visible = (s.customer[sess] >= 0) & (~s.signup[sess] | (kind >= IDENTIFY))
    r_lines = lines[refunds.line]
    r_order = line_order[refunds.line]
    m = len(r_lines)
    lag = rng.exponential(0.6, n + m) + 0.05
    lag[:n][s.channel[sess] == CHANNELS.index("wechat_mini")] *= 6.0  # mini programs batch their uploads
    return Events(
        session=np.concatenate([sess, orders.session[r_order]]).astype(np.int32),
        kind=np.concatenate([kind, np.full(m, REFUND, dtype=np.int8)]),
        ts=np.concatenate([tl.ts[idx], refunds.refunded_at]),
        received_lag_us=(lag * US_PER_SECOND).astype(np.int64),
        product=np.concatenate([product, b.item_product[r_lines]]),
        quantity=np.concatenate([quantity, b.item_quantity[r_lines]]),
        price=np.concatenate([price, refunds.amount]),
        order=np.concatenate([order, r_order]),
        refund=np.concatenate([np.full(n, -1, dtype=np.int64), np.arange(m)]),
        in_stock=np.concatenate([in_stock[idx], np.ones(m, dtype=bool)]),
        x=np.concatenate([x, np.full(m, np.nan)]),
        y=np.concatenate([y, np.full(m, np.nan)]),
        element=np.concatenate([element, np.full(m, -1, dtype=np.int16)]),
        user_visible=np.concatenate([user_visible, np.ones(m, dtype=bool)]),
    )
