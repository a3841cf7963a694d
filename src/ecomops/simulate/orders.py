"""Orders from converting sessions whose items survived stock allocation: subtotal, one coupon by rule,
shipping by channel, total = subtotal - discount + shipping (all integer cents, so exact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ecomops.simulate.calendar import US_PER_DAY, US_PER_SECOND, Calendar
from ecomops.simulate.coupons import ALL_COUPONS, FESTIVAL, LIVE, NEW_CUSTOMER, VIP, Coupon
from ecomops.simulate.params import Shop

#: Per channel (free-shipping threshold yuan, fee yuan).
SHIPPING = ((99, 8), (99, 8), (49, 6), (39, 5), (59, 6))
PAYMENT_METHODS = ("alipay", "wechat_pay", "unionpay", "huabei")
#: Payment mix per channel over PAYMENT_METHODS.
PAYMENT_MIX = np.array(
    [[0.45, 0.35, 0.1, 0.1], [0, 1, 0, 0], [0.4, 0.5, 0, 0.1], [0.8, 0, 0.05, 0.15], [0.3, 0.5, 0.2, 0]]
)


@dataclass
class Orders:
    session: np.ndarray  # per order, ordered by time
    ordered_at: np.ndarray
    paid_at: np.ndarray
    subtotal: np.ndarray
    discount: np.ndarray
    shipping: np.ndarray
    total: np.ndarray
    coupon: np.ndarray  # index into ALL_COUPONS, -1 none
    units: np.ndarray
    lines: np.ndarray
    payment: np.ndarray
    of_session: np.ndarray  # per session: order index or -1

    @property
    def size(self) -> int:
        return len(self.session)


def festival_coupon_by_day(cal: Calendar) -> np.ndarray:
    """Index into ALL_COUPONS of the festival coupon valid each day (-1 outside windows)."""
    out = np.full(cal.days, -1, dtype=np.int8)
    for f in cal.festival_days:
        coupon = FESTIVAL.get(str(f["name"]))
        if coupon is None or float(f["promo_depth"]) <= 0:
            continue
        i = (date.fromisoformat(str(f["date"])) - cal.start).days
        out[i] = ALL_COUPONS.index(coupon)
    return out


def coupon_discount(coupon: Coupon, subtotal: np.ndarray, shop: Shop) -> np.ndarray:
    if coupon.kind == "fixed":
        return np.full(len(subtotal), shop.cents(coupon.amount), dtype=np.int64)
    if coupon.kind == "tiered":
        raw = (subtotal // shop.cents(coupon.threshold)) * shop.cents(coupon.amount)
    else:
        raw = np.round(subtotal * coupon.amount / 100.0).astype(np.int64)
    return np.minimum(raw, shop.cents(coupon.cap)) if coupon.cap else raw


def build_orders(
    rng: np.random.Generator,
    cal: Calendar,
    shop: Shop,
    n_sessions: int,
    order_ts: np.ndarray,
    channel: np.ndarray,
    day: np.ndarray,
    live: np.ndarray,
    signup: np.ndarray,
    abuser: np.ndarray,
    item_session: np.ndarray,
    line_total: np.ndarray,
    quantity: np.ndarray,
    kept: np.ndarray,
) -> Orders:
    subtotal_s = np.bincount(item_session[kept], weights=line_total[kept], minlength=n_sessions).astype(
        np.int64
    )
    lines_s = np.bincount(item_session[kept], minlength=n_sessions)
    has_order = lines_s > 0
    sess = np.flatnonzero(has_order)
    sess = sess[np.argsort(order_ts[sess], kind="stable")]
    n = len(sess)
    subtotal = subtotal_s[sess]
    coupon = np.full(n, -1, dtype=np.int8)
    discount = np.zeros(n, dtype=np.int64)
    u = rng.random((n, 4))

    def apply(mask: np.ndarray, c: Coupon, amount: np.ndarray | None = None) -> None:
        mask = mask & (coupon < 0) & (subtotal >= shop.cents(c.threshold))
        coupon[mask] = ALL_COUPONS.index(c)
        discount[mask] = (coupon_discount(c, subtotal, shop) if amount is None else amount)[mask]

    ab, new = abuser[sess], signup[sess]
    apply(ab, NEW_CUSTOMER)
    apply(new & (u[:, 0] < NEW_CUSTOMER.usage_probability), NEW_CUSTOMER)
    apply((live[sess] >= 0) & (u[:, 1] < LIVE.usage_probability), LIVE)
    fest = festival_coupon_by_day(cal)[day[sess]]
    for code in np.unique(fest[fest >= 0]):
        c = ALL_COUPONS[int(code)]
        apply((fest == code) & (u[:, 2] < c.usage_probability), c)
    apply(~new & (u[:, 3] < VIP.usage_probability), VIP)
    discount = np.minimum(discount, subtotal)
    free_over = np.array([shop.cents(t) for t, _ in SHIPPING])[channel[sess]]
    fee = np.array([shop.cents(f) for _, f in SHIPPING])[channel[sess]]
    shipping = np.where(subtotal - discount < free_over, fee, 0).astype(np.int64)
    ordered_at = order_ts[sess]
    paid_at = ordered_at + (rng.uniform(3, 60, n) * US_PER_SECOND).astype(np.int64)
    cum = np.cumsum(PAYMENT_MIX, axis=1)[channel[sess]]
    payment = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), len(PAYMENT_METHODS) - 1).astype(np.int8)
    of_session = np.full(n_sessions, -1, dtype=np.int64)
    of_session[sess] = np.arange(n)
    units = np.bincount(item_session[kept], weights=quantity[kept], minlength=n_sessions).astype(np.int64)
    return Orders(
        sess,
        ordered_at,
        paid_at,
        subtotal,
        discount,
        shipping,
        subtotal - discount + shipping,
        coupon,
        units[sess],
        lines_s[sess],
        payment,
        of_session,
    )


def order_status(cal: Calendar, orders: Orders, refunded_lines: np.ndarray) -> np.ndarray:
    """0 paid, 1 shipped, 2 completed, 3 partially_refunded, 4 refunded (as of the window's end)."""
    age = cal.day_start_us[cal.days] - orders.ordered_at
    status = np.where(age < US_PER_DAY, 0, np.where(age < 4 * US_PER_DAY, 1, 2)).astype(np.int8)
    status[refunded_lines > 0] = 3
    status[(refunded_lines > 0) & (refunded_lines == orders.lines)] = 4
    return status


ORDER_STATUSES = ("paid", "shipped", "completed", "partially_refunded", "refunded")
