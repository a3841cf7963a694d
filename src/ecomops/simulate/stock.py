"""Stock per product × warehouse, day by day, coupled to sales: orders are served in time order while
units last, a warehouse that runs out sells nothing until the next delivery (demand is lost, not
back-ordered), and replenishment follows an (s, S) policy whose planner under-forecasts festival peaks
and suffers planted supplier delays on a few best-sellers. The resulting stock-out intervals are exact."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecomops.simulate.calendar import US_PER_SECOND, WEEKLY, Calendar

LEAD_TIME_DAYS = (3, 10)
REVIEW_DAYS = 14
SAFETY_Z = 2.0
#: Variance of daily unit demand relative to Poisson (multi-unit lines, traffic noise).
OVERDISPERSION = 2.0
#: Share of a festival's uplift the planner stocks for (the rest turns into stock-outs on best-sellers).
FESTIVAL_FORESIGHT = 0.6
#: Suppliers ship whole cartons, and planners keep a few units of even the slowest products.
CASE_PACK = 6
MIN_REORDER_POINT = 4
DELAY_WINDOW_DAYS = 10
DELAY_DAYS = (10, 20)
#: Orders paid after this local time wait for the next day's pick-up (``reserved`` in snapshots).
CUTOFF_S = 17 * 3600


@dataclass
class StockResult:
    kept: np.ndarray  # per requested line: served
    on_hand: np.ndarray  # days × cells, end of local day
    reserved: np.ndarray  # days × cells
    lead_time: np.ndarray  # per product
    interval_cell: np.ndarray
    interval_start: np.ndarray  # UTC µs of the last sale before running out
    interval_end: np.ndarray  # UTC µs of the delivery's local midnight, -1 = still out at the end
    interval_cause: np.ndarray  # 0 demand beyond forecast, 1 supplier delay
    delays: list[dict[str, Any]] = field(default_factory=list)


def planner_multiplier(cal: Calendar, planning_signal: np.ndarray) -> np.ndarray:
    """The planner's view of each day × product demand level: trend, weekday and our own price changes
    and seasons exact, festival peaks under-forecast, competitor moves unknown."""
    fest = np.where(cal.festival > 1.0, 1.0 + FESTIVAL_FORESIGHT * (cal.festival - 1.0), cal.festival)
    return np.asarray((cal.trend * WEEKLY[cal.weekday] * fest)[:, None] * planning_signal)


def plan_delays(
    rng: np.random.Generator, cal: Calendar, demand_units: np.ndarray, n_wh: int
) -> list[dict[str, Any]]:
    """Supplier delays on the best-selling products, each at the warehouse that sells most of it."""
    per_product = demand_units.reshape(-1, n_wh).sum(axis=1)
    n_delayed = max(3, len(per_product) // 25)
    best = np.argsort(-per_product, kind="stable")[:n_delayed]
    out = []
    for p in np.sort(best):
        wh = int(np.argmax(demand_units.reshape(-1, n_wh)[p]))
        start = int(rng.integers(int(cal.days * 0.2), max(int(cal.days * 0.8), int(cal.days * 0.2) + 1)))
        out.append(
            {
                "product": int(p),
                "warehouse": wh,
                "order_window": (start, start + DELAY_WINDOW_DAYS),
                "extra_days": int(rng.integers(DELAY_DAYS[0], DELAY_DAYS[1] + 1)),
            }
        )
    return out


def simulate_stock(
    rng: np.random.Generator,
    cal: Calendar,
    planning_signal: np.ndarray,
    n_wh: int,
    product: np.ndarray,
    warehouse: np.ndarray,
    quantity: np.ndarray,
    ts: np.ndarray,
    day: np.ndarray,
) -> StockResult:
    """``planning_signal`` is the days × products demand level planners can foresee (own prices, seasons)."""
    n_products = planning_signal.shape[1]
    n_cells, n_days = n_products * n_wh, cal.days
    cell = product.astype(np.int64) * n_wh + warehouse
    order = np.lexsort((ts, cell, day))
    s_cell, s_qty, s_ts, s_day = cell[order], quantity[order].astype(np.int64), ts[order], day[order]
    group_start = np.flatnonzero(np.concatenate([[True], (np.diff(s_cell) != 0) | (np.diff(s_day) != 0)]))
    csum = np.cumsum(s_qty)
    offset = np.repeat(csum[group_start] - s_qty[group_start], np.diff(np.append(group_start, len(s_qty))))
    cum_qty = csum - offset
    day_lo = np.searchsorted(s_day, np.arange(n_days + 1))

    demand_units = np.bincount(cell, weights=quantity, minlength=n_cells)
    pm = planner_multiplier(cal, planning_signal)
    truth = (cal.trend * WEEKLY[cal.weekday] * cal.festival)[:, None] * planning_signal
    cell_product = np.repeat(np.arange(n_products), n_wh)
    mu = demand_units / truth.sum(axis=0)[cell_product]
    lead = np.asarray(rng.integers(LEAD_TIME_DAYS[0], LEAD_TIME_DAYS[1] + 1, n_products))
    cell_lead = np.repeat(lead, n_wh)
    horizon = LEAD_TIME_DAYS[1] + REVIEW_DAYS + 2
    padded = np.concatenate([pm, np.repeat(pm[-1:], horizon, axis=0)])
    cum_pm = np.concatenate([np.zeros((1, n_products)), np.cumsum(padded, axis=0)])

    def levels(d: int) -> tuple[np.ndarray, np.ndarray]:
        now = cum_pm[d + 1, cell_product]
        at_arrival = cum_pm[d + 1 + cell_lead, cell_product]
        lead_demand = mu * (at_arrival - now)
        review_demand = mu * (cum_pm[d + 1 + cell_lead + REVIEW_DAYS, cell_product] - at_arrival)
        s = np.ceil(lead_demand + SAFETY_Z * np.sqrt(OVERDISPERSION * np.maximum(lead_demand, 0.5)))
        s = np.maximum(s, MIN_REORDER_POINT)
        return s, s + np.ceil(review_demand) + 1

    delays = plan_delays(rng, cal, demand_units, n_wh)
    extra_delay = np.zeros((n_days, n_cells), dtype=np.int32)
    for dl in delays:
        lo, hi = dl["order_window"]
        extra_delay[lo : min(hi, n_days), dl["product"] * n_wh + dl["warehouse"]] = dl["extra_days"]

    _, initial = levels(0)
    on_hand = initial.astype(np.int64)
    on_order = np.zeros(n_cells, dtype=np.int64)
    arrivals = np.zeros((n_days + horizon + DELAY_DAYS[1] + 1, n_cells), dtype=np.int64)
    delayed_until = np.full(n_cells, -1)
    kept_sorted = np.zeros(len(s_cell), dtype=bool)
    snap = np.zeros((n_days, n_cells), dtype=np.int32)
    reserved = np.zeros((n_days, n_cells), dtype=np.int32)
    open_start = np.full(n_cells, -1, dtype=np.int64)
    open_cause = np.zeros(n_cells, dtype=np.int8)
    iv_cell: list[np.ndarray] = []
    iv_start: list[np.ndarray] = []
    iv_end: list[np.ndarray] = []
    iv_cause: list[np.ndarray] = []
    for d in range(n_days):
        avail = on_hand + arrivals[d]
        on_order -= arrivals[d]
        closing = np.flatnonzero((open_start >= 0) & (avail > 0))
        if len(closing):
            iv_cell.append(closing)
            iv_start.append(open_start[closing].copy())
            iv_end.append(np.full(len(closing), cal.day_start_us[d]))
            iv_cause.append(open_cause[closing].copy())
            open_start[closing] = -1
        lo, hi = day_lo[d], day_lo[d + 1]
        c = s_cell[lo:hi]
        ok = cum_qty[lo:hi] <= avail[c]
        kept_sorted[lo:hi] = ok
        sold = np.bincount(c[ok], weights=s_qty[lo:hi][ok], minlength=n_cells).astype(np.int64)
        on_hand = avail - sold
        last_sale = np.zeros(n_cells, dtype=np.int64)
        np.maximum.at(last_sale, c[ok], s_ts[lo:hi][ok])
        late = ok & (s_ts[lo:hi] - cal.day_start_us[d] >= CUTOFF_S * US_PER_SECOND)
        reserved[d] = np.bincount(c[late], weights=s_qty[lo:hi][late], minlength=n_cells)
        newly_out = np.flatnonzero((on_hand == 0) & (avail > 0))
        open_start[newly_out] = last_sale[newly_out]
        open_cause[newly_out] = (delayed_until[newly_out] > d).astype(np.int8)
        snap[d] = on_hand
        s_level, big_s = levels(d)
        position = on_hand + on_order
        reorder = np.flatnonzero(position <= s_level)
        if len(reorder):
            qty = (np.ceil((big_s[reorder] - position[reorder]) / CASE_PACK) * CASE_PACK).astype(np.int64)
            arrive = d + cell_lead[reorder] + extra_delay[d, reorder]
            np.add.at(arrivals, (arrive, reorder), qty)
            on_order[reorder] += qty
            delayed = reorder[extra_delay[d, reorder] > 0]
            delayed_until[delayed] = np.maximum(delayed_until[delayed], arrive[extra_delay[d, reorder] > 0])
    still = np.flatnonzero(open_start >= 0)
    iv_cell.append(still)
    iv_start.append(open_start[still])
    iv_end.append(np.full(len(still), -1, dtype=np.int64))
    iv_cause.append(open_cause[still])
    kept = np.zeros(len(cell), dtype=bool)
    kept[order] = kept_sorted
    cells = np.concatenate(iv_cell)
    starts = np.concatenate(iv_start)
    by = np.lexsort((starts, cells))
    return StockResult(
        kept,
        snap,
        reserved,
        lead,
        cells[by],
        starts[by],
        np.concatenate(iv_end)[by],
        np.concatenate(iv_cause)[by],
        delays,
    )


def interval_index(result: StockResult, cell: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of the stock-out interval each (cell, time) falls inside, -1 when the item was in stock."""
    if len(result.interval_cell) == 0 or len(cell) == 0:
        return np.full(len(cell), -1, dtype=np.int64)
    shift = 50
    base = int(min(result.interval_start.min(), ts.min())) - 1
    key_iv = (result.interval_cell.astype(np.int64) << shift) + (result.interval_start - base)
    key = (cell.astype(np.int64) << shift) + (ts - base)
    i = np.searchsorted(key_iv, key, side="right") - 1
    j = np.maximum(i, 0)
    end = np.where(result.interval_end[j] < 0, np.iinfo(np.int64).max, result.interval_end[j])
    inside = (i >= 0) & (result.interval_cell[j] == cell) & (ts > result.interval_start[j]) & (ts < end)
    return np.where(inside, j, -1)


def out_of_stock(result: StockResult, cell: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Whether each (cell, time) falls inside a stock-out interval."""
    return interval_index(result, cell, ts) >= 0
