"""What each session looks at and buys. Product choice within a category is weighted by popularity ×
(price / list price) ** elasticity × competitor pull, so units sold respond to price with the
category's elasticity; buyers' first item is in their focus category, extra items often elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.catalog import Catalog
from ecomops.simulate.categories import CATEGORIES

#: Chance that a browsing view / an extra bought item leaves the session's focus category.
BROWSE_OTHER_CATEGORY = 0.3
ITEM_OTHER_CATEGORY = 0.5


@dataclass
class Demand:
    """Day-level choice weights derived from prices (inputs to conversion and product choice)."""

    weight: np.ndarray  # days × products: popularity × relative price ** elasticity × competitor pull
    own_price_effect: np.ndarray  # days × products: relative price ** elasticity
    attractiveness: np.ndarray  # days × categories: sum of weight per category (1.0 at list prices)
    interest: np.ndarray  # days × categories: seasonal share of shopping interest

    @property
    def price_multiplier(self) -> np.ndarray:
        """Per-day multiplier on conversion: interest-weighted attractiveness of the whole catalogue."""
        return np.asarray((self.interest * self.attractiveness).sum(axis=1))

    def planning_signal(self, catalog: Catalog) -> np.ndarray:
        """Days × products demand level a planner can foresee: own prices and category seasonality
        (competitor moves are the part it cannot)."""
        season = self.interest / self.interest.mean(axis=0, keepdims=True)
        return np.asarray(self.own_price_effect * season[:, catalog.category])

    @property
    def buying_mix(self) -> np.ndarray:
        mix = self.interest * self.attractiveness
        return np.asarray(mix / mix.sum(axis=1, keepdims=True))


def demand_weights(
    catalog: Catalog, prices: np.ndarray, competitor_effect: np.ndarray, interest: np.ndarray
) -> Demand:
    elasticity = np.array([CATEGORIES[k].elasticity for k in catalog.category])
    relative = prices / catalog.list_price[None, :]
    own = relative ** elasticity[None, :]
    weight = catalog.popularity[None, :] * own * competitor_effect
    starts = catalog.category_start
    attractiveness = np.add.reduceat(weight, starts[:-1], axis=1)
    return Demand(weight, own, attractiveness, interest)


def sample_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per entry of ``rows`` from the categorical distribution in that row of ``probs``,
    vectorised with a single searchsorted over row-offset cumulative sums."""
    n_rows, width = probs.shape
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    flat = (np.arange(n_rows)[:, None] + cdf).ravel()
    pos = np.searchsorted(flat, rows + rng.random(len(rows)), side="right")
    return np.asarray((pos - rows.astype(np.int64) * width).astype(np.int64))


def sample_products(
    rng: np.random.Generator, catalog: Catalog, weight: np.ndarray, day: np.ndarray, category: np.ndarray
) -> np.ndarray:
    """A product of the given category for each (day, category) pair, by that day's weights."""
    n_days, n_products = weight.shape
    n_cat = len(CATEGORIES)
    starts = catalog.category_start
    cum = np.cumsum(weight, axis=1)
    padded = np.concatenate([np.zeros((n_days, 1)), cum], axis=1)
    before = padded[:, starts[:-1]]
    after = padded[:, starts[1:]]
    seg_before = np.repeat(before, np.diff(starts), axis=1)
    seg_total = np.repeat(after - before, np.diff(starts), axis=1)
    within = (cum - seg_before) / seg_total
    last = starts[1:] - 1
    within[:, last] = 1.0
    offset = np.arange(n_days)[:, None] * n_cat + catalog.category[None, :]
    flat = (offset + within).ravel()
    target = day.astype(np.int64) * n_cat + category + rng.random(len(day))
    pos = np.searchsorted(flat, target, side="right")
    return np.asarray((pos % n_products).astype(np.int32))


@dataclass
class Baskets:
    view_session: np.ndarray
    view_product: np.ndarray
    view_start: np.ndarray  # per session offset into views (n_sessions + 1)
    item_session: np.ndarray
    item_product: np.ndarray
    item_quantity: np.ndarray
    item_price: np.ndarray  # unit price, cents
    item_start: np.ndarray  # per session offset into items (n_sessions + 1)


def fill_baskets(
    rng: np.random.Generator,
    catalog: Catalog,
    demand: Demand,
    prices: np.ndarray,
    day: np.ndarray,
    focus: np.ndarray,
    converted: np.ndarray,
    n_views: np.ndarray,
    n_items: np.ndarray,
    forced_product: np.ndarray,
    forced_quantity: np.ndarray,
) -> Baskets:
    """Viewed products per session, and for buyers the (deduplicated) lines of their order.
    ``forced_*`` (-1 / 0 = none) pins a session's first item, used for the abuse ring."""
    n = len(day)
    view_start = np.concatenate([[0], np.cumsum(n_views, dtype=np.int64)])
    v_sess = np.repeat(np.arange(n, dtype=np.int32), n_views)
    pos = np.arange(len(v_sess)) - view_start[v_sess]
    is_item = converted[v_sess] & (pos < n_items[v_sess])
    v_day = day[v_sess]
    cat = focus[v_sess].astype(np.int64)
    u = rng.random(len(v_sess))
    extra_item = is_item & (pos > 0) & (u < ITEM_OTHER_CATEGORY)
    extra_view = ~is_item & (pos > 0) & (u < BROWSE_OTHER_CATEGORY)
    cat[extra_item] = sample_rows(rng, demand.buying_mix, v_day[extra_item])
    cat[extra_view] = sample_rows(rng, demand.interest, v_day[extra_view])
    product = sample_products(rng, catalog, demand.weight, v_day, cat)
    first_slot = view_start[:-1][forced_product >= 0]
    product[first_slot] = forced_product[forced_product >= 0]
    # Order lines: item slots, keeping the first line of a product bought twice in one session.
    slots = np.flatnonzero(is_item)
    key = v_sess[slots].astype(np.int64) * catalog.size + product[slots]
    _, first = np.unique(key, return_index=True)
    slots = slots[np.sort(first)]
    i_sess = v_sess[slots]
    i_prod = product[slots]
    multi = np.array([c.multi_buy for c in CATEGORIES])[catalog.category[i_prod]]
    qty = (1 + np.minimum(rng.poisson(multi), 4)).astype(np.int16)
    forced_line = np.isin(slots, first_slot) & (forced_quantity[i_sess] > 0)
    qty[forced_line] = forced_quantity[i_sess[forced_line]]
    item_start = np.concatenate([[0], np.cumsum(np.bincount(i_sess, minlength=n), dtype=np.int64)])
    return Baskets(v_sess, product, view_start, i_sess, i_prod, qty, prices[day[i_sess], i_prod], item_start)
