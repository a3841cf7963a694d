"""Competitor price observations for the better-known products, and the pull they exert on our demand
(a competitor discount takes share: cross-price elasticity ``CROSS_ELASTICITY``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import Calendar
from ecomops.simulate.catalog import Catalog, nice_price

COMPETITORS = (
    ("pinduoduo", "https://mobile.yangkeduo.com/goods.html?sku="),
    ("jd_self", "https://item.jd.com/"),
    ("vipshop", "https://www.vip.com/detail-"),
)
#: Our units ∝ (cheapest competitor price / its usual level) ** CROSS_ELASTICITY.
CROSS_ELASTICITY = 0.5
#: Share of the catalogue (most popular first) that competitors also sell.
TRACKED_SHARE = 0.6
#: Local time competitor prices are scraped each day.
OBSERVED_AT_SECONDS = 9 * 3600


@dataclass
class CompetitorPrices:
    product: np.ndarray  # tracked product indices
    price: np.ndarray  # days × tracked × competitors, cents
    in_stock: np.ndarray  # bool, same shape
    demand_effect: np.ndarray  # days × all products multiplier on our demand


def simulate_competitors(rng: np.random.Generator, cal: Calendar, catalog: Catalog) -> CompetitorPrices:
    n_days = cal.days
    order = np.argsort(-catalog.popularity, kind="stable")
    tracked = np.sort(order[: round(catalog.size * TRACKED_SHARE)])
    n_tr, n_comp = len(tracked), len(COMPETITORS)
    level = rng.normal(0.98, 0.06, (n_tr, n_comp))
    # AR(1) log-price wander so competitor prices move independently of ours.
    shocks = rng.normal(0.0, 0.02, (n_days, n_tr, n_comp))
    wander = np.zeros_like(shocks)
    for d in range(1, n_days):
        wander[d] = 0.9 * wander[d - 1] + shocks[d]
    promo_depth = rng.uniform(0.6, 1.2, n_comp)[None, None, :] * cal.promo_depth[:, None, None]
    base = catalog.list_price[tracked][None, :, None] * level[None, :, :]
    price = nice_price(base * np.exp(wander) * (1.0 - promo_depth))
    in_stock = rng.random(price.shape) < 0.96
    reference = (catalog.list_price[tracked] * level.min(axis=1)).astype(float)
    cheapest = np.where(in_stock, price, np.iinfo(np.int64).max).min(axis=2).astype(float)
    cheapest = np.where(cheapest > 1e15, reference[None, :], cheapest)
    effect = np.ones((n_days, catalog.size))
    effect[:, tracked] = (cheapest / reference[None, :]) ** CROSS_ELASTICITY
    return CompetitorPrices(tracked, price, in_stock, effect)
