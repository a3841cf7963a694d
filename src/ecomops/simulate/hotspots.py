"""Where people click on each page type, as a mixture of hot spots in page-relative coordinates
(x across the layout width, y down the page) plus uniform background clicks."""

from __future__ import annotations

import numpy as np

from ecomops.simulate.basket import sample_rows
from ecomops.simulate.traffic import PAGE_TYPES

#: Page height in screen heights (y is stored in CSS pixels from the page top).
PAGE_SCREENS = 3.0
# element, centre x, centre y, sd x, sd y, weight
HOTSPOTS: dict[str, tuple[tuple[str, float, float, float, float, float], ...]] = {
    "Home": (
        ("hero_banner", 0.5, 0.08, 0.15, 0.025, 0.35),
        ("search_box", 0.5, 0.02, 0.15, 0.004, 0.15),
        ("coupon_popup_close", 0.92, 0.12, 0.015, 0.004, 0.10),
        ("product_grid_left", 0.25, 0.30, 0.08, 0.04, 0.15),
        ("product_grid_right", 0.75, 0.30, 0.08, 0.04, 0.13),
    ),
    "Category": (
        ("filter_bar", 0.5, 0.03, 0.2, 0.006, 0.25),
        ("sort_price", 0.8, 0.03, 0.03, 0.004, 0.15),
        ("product_grid_left", 0.25, 0.25, 0.08, 0.06, 0.25),
        ("product_grid_right", 0.75, 0.25, 0.08, 0.06, 0.22),
    ),
    "Product": (
        ("image_gallery", 0.5, 0.10, 0.2, 0.04, 0.30),
        ("sku_selector", 0.5, 0.22, 0.15, 0.01, 0.20),
        ("reviews_tab", 0.3, 0.45, 0.05, 0.01, 0.15),
        ("add_to_cart", 0.72, 0.31, 0.06, 0.006, 0.25),
    ),
    "Search Results": (
        ("search_box", 0.5, 0.02, 0.2, 0.004, 0.2),
        ("result_first", 0.5, 0.12, 0.2, 0.02, 0.4),
        ("result_list", 0.5, 0.35, 0.2, 0.12, 0.3),
    ),
    "Live Room": (
        ("product_card", 0.2, 0.28, 0.05, 0.01, 0.35),
        ("like_button", 0.9, 0.26, 0.02, 0.008, 0.30),
        ("cart_icon", 0.08, 0.31, 0.015, 0.006, 0.25),
    ),
    "Short Video": (
        ("product_link", 0.3, 0.27, 0.1, 0.01, 0.45),
        ("like_button", 0.92, 0.2, 0.02, 0.01, 0.45),
    ),
}
BACKGROUND = "other"
ELEMENTS = tuple(dict.fromkeys([h[0] for spots in HOTSPOTS.values() for h in spots] + [BACKGROUND]))
ADD_TO_CART = HOTSPOTS["Product"][3]
#: Share of clicks landing anywhere (not on a hot spot).
BACKGROUND_SHARE = 0.1


def _table() -> tuple[np.ndarray, np.ndarray]:
    width = max(len(v) for v in HOTSPOTS.values()) + 1
    probs = np.zeros((len(PAGE_TYPES), width))
    params = np.zeros((len(PAGE_TYPES), width, 5))
    for p, page in enumerate(PAGE_TYPES):
        spots = HOTSPOTS[page]
        w = np.array([s[5] for s in spots])
        probs[p, : len(spots)] = (1 - BACKGROUND_SHARE) * w / w.sum()
        probs[p, -1] = BACKGROUND_SHARE
        for j, s in enumerate(spots):
            params[p, j] = (s[1], s[2], s[3], s[4], ELEMENTS.index(s[0]))
        params[p, -1] = (0.5, 0.5, 0.0, 0.0, ELEMENTS.index(BACKGROUND))
    return probs, params


def sample_clicks(
    rng: np.random.Generator, page: np.ndarray, width: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, element) for clicks on the given page types and screens."""
    probs, params = _table()
    spot = sample_rows(rng, probs, page.astype(np.int64))
    chosen = params[page, spot]
    background = spot == probs.shape[1] - 1
    x_rel = np.where(background, rng.random(len(page)), rng.normal(chosen[:, 0], chosen[:, 2]))
    y_rel = np.where(background, rng.random(len(page)), rng.normal(chosen[:, 1], chosen[:, 3]))
    x = np.clip(x_rel, 0.0, 1.0) * width
    y = np.clip(y_rel, 0.0, 1.0) * height * PAGE_SCREENS
    return np.round(x, 1), np.round(y, 1), chosen[:, 4].astype(np.int16)


def sample_add_to_cart(
    rng: np.random.Generator, width: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    _, cx, cy, sx, sy, _ = ADD_TO_CART
    x = np.clip(rng.normal(cx, sx, len(width)), 0, 1) * width
    y = np.clip(rng.normal(cy, sy, len(width)), 0, 1) * height * PAGE_SCREENS
    return np.round(x, 1), np.round(y, 1)


def describe() -> list[dict[str, object]]:
    return [
        {
            "page": page,
            "element": s[0],
            "x_rel": s[1],
            "y_rel": s[2],
            "sd_x": s[3],
            "sd_y": s[4],
            "share": round((1 - BACKGROUND_SHARE) * s[5] / sum(t[5] for t in spots), 4),
        }
        for page, spots in HOTSPOTS.items()
        for s in spots
    ]
