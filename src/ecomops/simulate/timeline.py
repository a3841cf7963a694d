"""The planned event sequence of every session: page → clicks → product views → adds → (sign-up) →
checkout → coupon → order, with realistic gaps. Planned first, because order times must exist before
stock is allocated; events that stock-outs or coupon rules rule out are masked afterwards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import US_PER_SECOND

KINDS = ("page", "click", "view", "add", "identify", "checkout", "coupon", "order")
PAGE, CLICK, VIEW, ADD, IDENTIFY, CHECKOUT, COUPON, ORDER = range(len(KINDS))
#: Mean seconds before an event of each kind (exponential, +1 s).
MEAN_GAP_S = np.array([0.0, 12.0, 40.0, 25.0, 30.0, 35.0, 15.0, 60.0])


@dataclass
class Timeline:
    session: np.ndarray
    kind: np.ndarray
    rank: np.ndarray  # position among the session's events of the same kind
    ts: np.ndarray
    ref: np.ndarray  # view slot (view, add of a browser) or item line (add of a buyer), else -1
    order_ts: np.ndarray  # per session: planned payment time (0 when no order)

    @property
    def size(self) -> int:
        return len(self.session)


def plan_timeline(
    rng: np.random.Generator,
    start_us: np.ndarray,
    n_clicks: np.ndarray,
    n_views: np.ndarray,
    converted: np.ndarray,
    added: np.ndarray,
    checkout: np.ndarray,
    signup: np.ndarray,
    view_start: np.ndarray,
    item_start: np.ndarray,
) -> Timeline:
    n = len(start_us)
    n_items = np.diff(item_start)
    counts = np.stack(
        [
            np.ones(n, dtype=np.int32),
            n_clicks,
            n_views,
            np.where(converted, n_items, added.astype(np.int64)),
            signup.astype(np.int32),
            (converted | checkout).astype(np.int32),
            converted.astype(np.int32),
            converted.astype(np.int32),
        ],
        axis=1,
    ).astype(np.int32)
    bounds = np.cumsum(counts, axis=1)
    total = bounds[:, -1]
    first = np.concatenate([[0], np.cumsum(total, dtype=np.int64)])
    sess = np.repeat(np.arange(n, dtype=np.int32), total)
    pos = (np.arange(len(sess)) - first[sess]).astype(np.int32)
    kind = np.zeros(len(sess), dtype=np.int8)
    lower = np.zeros(len(sess), dtype=np.int32)
    for j in range(len(KINDS) - 1):
        b = bounds[sess, j]
        past = pos >= b
        kind += past
        lower = np.where(past, b, lower)
    rank = pos - lower
    ref = np.full(len(sess), -1, dtype=np.int64)
    is_view = kind == VIEW
    ref[is_view] = view_start[sess[is_view]] + rank[is_view]
    is_add = kind == ADD
    buyer_add = is_add & converted[sess]
    ref[buyer_add] = item_start[sess[buyer_add]] + rank[buyer_add]
    browser_add = is_add & ~converted[sess]
    ref[browser_add] = view_start[sess[browser_add]]
    gap = ((rng.exponential(1.0, len(sess)) * MEAN_GAP_S[kind] + (kind > 0)) * US_PER_SECOND).astype(np.int64)
    gap[pos == 0] = 0
    cum = np.cumsum(gap)
    ts = start_us[sess] + cum - (cum[first[:-1]] - gap[first[:-1]])[sess]
    order_ts = np.zeros(n, dtype=np.int64)
    is_order = kind == ORDER
    order_ts[sess[is_order]] = ts[is_order]
    return Timeline(sess, kind, rank, ts, ref, order_ts)
