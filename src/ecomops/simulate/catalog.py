"""The catalogue: products drawn from the categories (prices, costs, popularity, quality, names) and each
product's daily selling price, plus the seasonal share of interest per category."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import Calendar
from ecomops.simulate.categories import CATEGORIES, VARIANTS
from ecomops.simulate.params import Shop

#: Share of products that join festival promotions.
PROMO_PARTICIPATION = 0.75


@dataclass
class Catalog:
    """Product-level arrays, products contiguous by category (so a category is an index range)."""

    category: np.ndarray  # int8 category index
    category_start: np.ndarray  # first product of each category, plus the end
    list_price: np.ndarray  # int64 cents
    cost: np.ndarray  # int64 cents
    popularity: np.ndarray  # float, sums to 1 within each category
    quality: np.ndarray  # latent 0..1; drives ratings and returns
    in_promo: np.ndarray  # bool, joins festival discounts
    sku: list[str]
    name_zh: list[str]
    name_en: list[str]
    subcategory: list[int]
    brand: list[int]

    @property
    def size(self) -> int:
        return len(self.category)


def nice_price(cents: np.ndarray) -> np.ndarray:
    """Shop-style prices ending in .9 of a whole unit (e.g. 199.9), never below 0.9."""
    whole = np.maximum(np.round(cents / 100.0), 1.0)
    return (whole * 100 - 10).astype(np.int64)


def build_catalog(rng: np.random.Generator, shop: Shop) -> Catalog:
    rows: list[tuple[int, int, int, int]] = []  # (category, subcategory, brand, variant)
    starts = [0]
    for k, cat in enumerate(CATEGORIES):
        for j in range(cat.products):
            rows.append(
                (
                    k,
                    j % len(cat.subcategories),
                    (j // len(cat.subcategories)) % len(cat.brands),
                    j % len(VARIANTS[cat.key]),
                )
            )
        starts.append(starts[-1] + cat.products)
    category = np.array([r[0] for r in rows], dtype=np.int8)
    medians = np.array([CATEGORIES[k].median_price for k in category])
    sigmas = np.array([CATEGORIES[k].price_sigma for k in category])
    list_price = nice_price(medians * np.exp(rng.normal(0.0, sigmas)) * 100 * shop.money_scale)
    cost_ratio = np.array([CATEGORIES[k].cost_ratio for k in category]) * rng.uniform(0.85, 1.15, len(rows))
    cost = np.round(list_price * np.minimum(cost_ratio, 0.9)).astype(np.int64)
    popularity = rng.lognormal(0.0, 1.0, len(rows))
    for k in range(len(CATEGORIES)):
        seg = slice(starts[k], starts[k + 1])
        popularity[seg] /= popularity[seg].sum()
    quality = rng.beta(8.0, 2.0, len(rows))
    in_promo = rng.random(len(rows)) < PROMO_PARTICIPATION
    sku, name_zh, name_en = [], [], []
    for i, (k, s, b, v) in enumerate(rows):
        cat = CATEGORIES[k]
        sku.append(f"{cat.code}-{i + 1:04d}")
        brand_en, brand_zh = cat.brands[b]
        sub_en, sub_zh = cat.subcategories[s]
        var_en, var_zh = VARIANTS[cat.key][v]
        name_zh.append(f"{brand_zh} {sub_zh} {var_zh}")
        name_en.append(f"{brand_en} {sub_en} {var_en}")
    return Catalog(
        category,
        np.array(starts),
        list_price,
        cost,
        popularity,
        quality,
        in_promo,
        sku,
        name_zh,
        name_en,
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


def daily_prices(rng: np.random.Generator, cal: Calendar, catalog: Catalog) -> np.ndarray:
    """Selling price per day × product (cents): occasional list-price moves of ±5-15% (so own-price
    elasticity is identifiable outside festivals) times the festival discount for promoted products."""
    n_days, n_products = cal.days, catalog.size
    level = np.ones((n_days, n_products))
    steps = np.array([0.85, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1])
    for i in range(n_products):
        day = int(rng.integers(0, 45))
        current = 1.0
        while day < n_days:
            length = int(rng.integers(20, 70))
            level[day : day + length, i] = current
            day += length
            current = float(rng.choice(steps))
    promo_factor = np.array([CATEGORIES[k].promo_factor for k in catalog.category])
    depth = np.outer(cal.promo_depth, promo_factor * catalog.in_promo)
    price = nice_price(catalog.list_price[None, :] * level * (1.0 - depth))
    floor = (catalog.cost * 1.05).astype(np.int64)
    return np.asarray(np.maximum(price, floor[None, :]))


def category_share(cal: Calendar) -> np.ndarray:
    """Day × category share of shopping interest (yearly cosine seasonality around each category's peak)."""
    doy = cal.day_of_year()[:, None]
    amp = np.array([c.season_amplitude for c in CATEGORIES])[None, :]
    peak = np.array([c.season_peak_doy for c in CATEGORIES])[None, :]
    base = np.array([c.share for c in CATEGORIES])[None, :]
    share = base * (1.0 + amp * np.cos(2 * np.pi * (doy - peak) / 365.0))
    return np.asarray(share / share.sum(axis=1, keepdims=True))
