"""Returns: a line comes back with its category's return rate, raised for poor-quality products; the
refund is the line minus its share of the order discount. Refunds after the window's end have not
happened yet and are left out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import US_PER_DAY
from ecomops.simulate.categories import CATEGORIES

REASONS = (
    "size_issue",
    "quality_issue",
    "not_as_described",
    "changed_mind",
    "damaged_in_transit",
    "late_delivery",
)
SIZED_CATEGORIES = {"apparel", "shoes"}


@dataclass
class Refunds:
    line: np.ndarray  # index into kept order lines
    amount: np.ndarray
    refunded_at: np.ndarray
    reason: np.ndarray


def draw_refunds(
    rng: np.random.Generator,
    as_of_us: int,
    category: np.ndarray,
    quality: np.ndarray,
    line_total: np.ndarray,
    order_subtotal: np.ndarray,
    order_discount: np.ndarray,
    paid_at: np.ndarray,
    excluded: np.ndarray,
) -> Refunds:
    """Per kept line (arrays aligned): category index, product quality, totals of its order, exclusions."""
    base = np.array([c.return_rate for c in CATEGORIES])[category]
    p = base * (0.5 + 2.5 * (1.0 - quality))
    back = (rng.random(len(category)) < p) & ~excluded
    delay = ((2 + rng.gamma(2.0, 3.0, len(category))) * US_PER_DAY).astype(np.int64)
    refunded_at = paid_at + delay
    line = np.flatnonzero(back & (refunded_at < as_of_us))
    share = np.where(
        order_subtotal[line] > 0,
        line_total[line] * order_discount[line] // np.maximum(order_subtotal[line], 1),
        0,
    )
    amount = line_total[line] - share
    sized = np.isin(category[line], [i for i, c in enumerate(CATEGORIES) if c.key in SIZED_CATEGORIES])
    poor = quality[line] < 0.7
    weights = np.where(sized[:, None], [0.45, 0.15, 0.1, 0.2, 0.05, 0.05], [0.0, 0.25, 0.2, 0.35, 0.1, 0.1])
    weights = np.where(poor[:, None], weights * [1, 3, 2, 1, 1, 1], weights)
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    reason = np.minimum((rng.random(len(line))[:, None] > cum).sum(axis=1), len(REASONS) - 1).astype(np.int8)
    return Refunds(line, amount.astype(np.int64), refunded_at[line], reason)
