"""The planted coupon-abuse ring: a burst of fresh accounts from one city sharing a handful of devices
and delivery addresses, each placing one small first order with the new-customer coupon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import Calendar
from ecomops.simulate.catalog import Catalog
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.coupons import NEW_CUSTOMER
from ecomops.simulate.geo import Geo
from ecomops.simulate.params import Shop
from ecomops.simulate.people import Ring
from ecomops.simulate.traffic import CHANNELS, PAGE_TYPES

RING_CITY = "Dongguan"
RING_CATEGORY = "food"
ACCOUNTS_PER_BURST = 10
RING_PRODUCTS = 3


@dataclass
class RingSessions:
    """Column arrays for the ring's sessions, shaped like ``Sessions`` fields."""

    day: np.ndarray
    start_us: np.ndarray
    channel: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    candidates: np.ndarray  # products the ring may switch to when its pick is out of stock


def plan_ring(
    rng: np.random.Generator,
    cal: Calendar,
    geo: Geo,
    catalog: Catalog,
    prices: np.ndarray,
    shop: Shop,
    accounts: int,
) -> tuple[Ring, RingSessions]:
    n_bursts = max(1, -(-accounts // ACCOUNTS_PER_BURST))
    lo, hi = int(cal.days * 0.3), max(int(cal.days * 0.3) + n_bursts, cal.days - 3)
    burst_days = np.sort(rng.choice(np.arange(lo, hi), n_bursts, replace=False))
    ring = Ring(
        city=geo.city_index(RING_CITY),
        device_keys=rng.integers(1, 2**48, 3),
        address_keys=rng.integers(1, 2**48, 2),
        burst_days=burst_days,
        coupon=NEW_CUSTOMER.code,
    )
    burst = np.arange(accounts) % n_bursts
    day = burst_days[burst].astype(np.int32)
    # Night-time bursts: accounts created minutes apart from 01:00 local.
    rank = np.arange(accounts) // n_bursts
    seconds = 3600 + rank * 240 + rng.random(accounts) * 120
    start_us = cal.local_to_utc(day, seconds)
    # Popular food products that clear the coupon threshold on their own all window long, spread over the
    # accounts so a burst does not empty one product's shelf; just enough units to reach the threshold.
    k = [c.key for c in CATEGORIES].index(RING_CATEGORY)
    seg = np.arange(catalog.category_start[k], catalog.category_start[k + 1])
    threshold = shop.cents(NEW_CUSTOMER.threshold)
    eligible = seg[prices[:, seg].min(axis=0) >= threshold]
    if len(eligible) == 0:
        eligible = seg[catalog.list_price[seg] >= threshold]
    if len(eligible) == 0:
        eligible = seg[np.argsort(-catalog.list_price[seg], kind="stable")[:1]]
    choice = eligible[np.argsort(-catalog.popularity[eligible], kind="stable")][:RING_PRODUCTS]
    # Fallbacks when a pick is sold out: any product of the category, bought in enough units.
    by_popularity = seg[np.argsort(-catalog.popularity[seg], kind="stable")]
    product = choice[np.arange(accounts) % len(choice)].astype(np.int32)
    unit = prices[day, product]
    quantity = np.maximum(1, -(-threshold // unit)).astype(np.int16)
    channel = np.where(rng.random(accounts) < 0.7, CHANNELS.index("wechat_mini"), CHANNELS.index("web"))
    return ring, RingSessions(day, start_us, channel.astype(np.int8), product, quantity, by_popularity)


HOME_PAGE = PAGE_TYPES.index("Home")
