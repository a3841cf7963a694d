"""The ground-truth manifest: every parameter the simulation used and what it planted (elasticities,
conversion rates, seasonality, peaks, campaigns' true incremental effect, abusers, stock-outs), plus the
realised figures an engine should recover. Deterministic for a given seed and parameters."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecomops import __version__
from ecomops.simulate import hotspots, live
from ecomops.simulate.calendar import ANNUAL_GROWTH, HOURLY, WEEKLY
from ecomops.simulate.catalog import PROMO_PARTICIPATION
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.competitors import COMPETITORS, CROSS_ELASTICITY, TRACKED_SHARE
from ecomops.simulate.coupons import ALL_COUPONS
from ecomops.simulate.generate import Simulation
from ecomops.simulate.geo import WAREHOUSES
from ecomops.simulate.marketing import CAMPAIGNS, FESTIVAL_BUDGET_ELASTICITY, PAID_SHARE, SATURATION
from ecomops.simulate.people import (
    ACTIVITY_SHAPE,
    CATEGORY_AFFINITY,
    FIRST_ORDER_SHARE,
    FIRST_PURCHASE_SHARE,
    HOME_CHANNEL_AFFINITY,
    KNOWN_SHARE,
    MEAN_LIFETIME_DAYS,
)
from ecomops.simulate.reviews import LANGUAGES, RATING_CUTS, REVIEW_PROBABILITY
from ecomops.simulate.stock import (
    CASE_PACK,
    FESTIVAL_FORESIGHT,
    LEAD_TIME_DAYS,
    REVIEW_DAYS,
    SAFETY_Z,
    interval_index,
)
from ecomops.simulate.tables import product_ids
from ecomops.simulate.timeline import ADD, CHECKOUT, ORDER, VIEW
from ecomops.simulate.traffic import BASE_CONVERSION, BOUNCE, CHANNEL_SHARE, CHANNELS

FORMAT_VERSION = 1
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


def _money(cents: float | int) -> float:
    return round(float(cents) / 100.0, 2)


def local_order_day(sim: Simulation) -> np.ndarray:
    return np.searchsorted(sim.cal.day_start_us, sim.orders.ordered_at, side="right") - 1


def channel_section(sim: Simulation) -> dict[str, Any]:
    s, o, tl = sim.sessions, sim.orders, sim.timeline
    has_order = o.of_session >= 0
    lost = s.converted & ~has_order & (tl.order_ts < sim.as_of_us)
    reached = {}
    for label, kind in (("viewed", VIEW), ("added", ADD), ("checkout", CHECKOUT), ("ordered", ORDER)):
        mark = np.zeros(s.size, dtype=bool)
        mark[sim.events.session[sim.events.kind == kind]] = True
        reached[label] = np.bincount(s.channel[mark], minlength=len(CHANNELS))
    out: dict[str, Any] = {}
    for c, name in enumerate(CHANNELS):
        m = s.channel == c
        n = int(m.sum())
        funnel = {label: int(counts[c]) for label, counts in reached.items()}
        out[name] = {
            "organic_share": float(CHANNEL_SHARE[c]),
            "base_conversion_rate": float(BASE_CONVERSION[c]),
            "expected_conversion_rate": round(float(s.p_conversion[m].mean()), 6) if n else None,
            "realised_conversion_rate": round(float(has_order[m].mean()), 6) if n else None,
            "sessions": n,
            "orders": int(has_order[m].sum()),
            "sessions_lost_to_stockouts": int(lost[m].sum()),
            "bounce_rate_non_buyers": float(BOUNCE[c]),
            "known_visitor_share_non_buyers": float(KNOWN_SHARE[c]),
            "funnel_sessions": funnel,
        }
    return out


def peaks_section(sim: Simulation) -> list[dict[str, Any]]:
    gmv = np.bincount(local_order_day(sim), weights=sim.orders.total, minlength=sim.cal.days)
    out = []
    for peak in sim.cal.peaks:
        i = sim.cal.index_of(date.fromisoformat(peak["date"]))
        assert i is not None
        before = gmv[max(0, i - 35) : max(0, i - 21)]
        ratio = float(gmv[i] / np.median(before)) if len(before) and np.median(before) > 0 else None
        out.append(
            {
                **peak,
                "gmv": _money(gmv[i]),
                "gmv_vs_median_of_days_21_to_35_before": round(ratio, 3) if ratio else None,
            }
        )
    return out


def campaigns_section(sim: Simulation) -> list[dict[str, Any]]:
    s, o, ads = sim.sessions, sim.orders, sim.ads
    has_order = o.of_session >= 0
    revenue = np.where(has_order, o.total[np.maximum(o.of_session, 0)], 0)
    out = []
    for k, c in enumerate(CAMPAIGNS):
        m = s.campaign == k
        inc = m & s.incremental
        spend = float(ads.spend[:, k].sum())
        rev, inc_rev = float(revenue[m].sum()), float(revenue[inc].sum())
        out.append(
            {
                "utm_source": c.source,
                "utm_medium": c.medium,
                "utm_campaign": c.name,
                "channel": c.channel,
                "flight": c.flight,
                "cpc_at_reference_spend": c.cpc,
                "reference_daily_spend": _money(ads.reference_spend[k]),
                "saturation_exponent": SATURATION,
                "conversion_multiplier": c.conversion_multiplier,
                "true_incrementality": c.incrementality,
                "spend": _money(spend),
                "clicks": int(ads.clicks[:, k].sum()),
                "sessions": int(m.sum()),
                "orders": int(has_order[m].sum()),
                "revenue_last_click": _money(rev),
                "incremental_sessions": int(inc.sum()),
                "incremental_orders": int(has_order[inc].sum()),
                "incremental_revenue": _money(inc_rev),
                "roas_last_click": round(rev / spend, 3) if spend else None,
                "roas_incremental": round(inc_rev / spend, 3) if spend else None,
            }
        )
    return out


def stockouts_section(sim: Simulation) -> dict[str, Any]:
    st, b = sim.stock, sim.baskets
    n_wh = len(WAREHOUSES)
    requested = np.flatnonzero(~sim.line_kept & (sim.timeline.order_ts[b.item_session] < sim.as_of_us))
    cell = (
        b.item_product[requested].astype(np.int64) * n_wh + sim.session_warehouse[b.item_session[requested]]
    )
    idx = interval_index(st, cell, sim.timeline.order_ts[b.item_session[requested]])
    lost = np.bincount(
        idx[idx >= 0], weights=b.item_quantity[requested][idx >= 0], minlength=len(st.interval_cell)
    )
    ids = product_ids(sim.catalog.size)
    intervals = [
        {
            "product_id": ids[int(c) // n_wh],
            "sku": sim.catalog.sku[int(c) // n_wh],
            "warehouse": WAREHOUSES[int(c) % n_wh].code,
            "start": _iso(int(a)),
            "end": _iso(int(e)) if e >= 0 else None,
            "cause": "supplier_delay" if cause else "demand_above_forecast",
            "lost_units": int(n),
        }
        for c, a, e, cause, n in zip(
            st.interval_cell, st.interval_start, st.interval_end, st.interval_cause, lost, strict=True
        )
    ]
    delays = [
        {
            "product_id": ids[d["product"]],
            "sku": sim.catalog.sku[d["product"]],
            "warehouse": WAREHOUSES[d["warehouse"]].code,
            "orders_placed_from": sim.cal.date_of(d["order_window"][0]).isoformat(),
            "orders_placed_until": sim.cal.date_of(min(d["order_window"][1], sim.cal.days) - 1).isoformat(),
            "extra_lead_days": d["extra_days"],
        }
        for d in st.delays
    ]
    return {
        "semantics": "no units of the product ship from the warehouse strictly between start and end; demand "
        "in between is lost (views carry in_stock=false). start = last sale, end = local midnight "
        "of the delivery day, null = still out at the window's end",
        "policy": {
            "type": "(s, S) continuous review",
            "lead_time_days": list(LEAD_TIME_DAYS),
            "review_days": REVIEW_DAYS,
            "safety_z": SAFETY_Z,
            "case_pack": CASE_PACK,
            "festival_foresight": FESTIVAL_FORESIGHT,
        },
        "lead_time_days_by_product": {ids[i]: int(v) for i, v in enumerate(st.lead_time)},
        "supplier_delays": delays,
        "intervals": intervals,
    }


def abuse_section(sim: Simulation) -> dict[str, Any]:
    c, o, s = sim.customers, sim.orders, sim.sessions
    abusers = np.flatnonzero(c.abuser)
    order_ids = [f"sim_o{i:08d}" for i in np.flatnonzero(s.abuser[o.session])]
    return {
        **sim.ring.describe(sim.cal, sim.geo),
        "customer_ids": [f"sim_c{i:07d}" for i in abusers],
        "order_ids": order_ids,
        "pattern": "fresh accounts in night-time bursts, sharing device ids and address hashes, each placing "
        "one small first order just above the coupon threshold with the new-customer coupon",
    }


def build_manifest(sim: Simulation, tenant: dict[str, str], counts: dict[str, int]) -> dict[str, Any]:
    cal, catalog = sim.cal, sim.catalog
    o = sim.orders
    coupon_use = np.bincount(o.coupon[o.coupon >= 0], minlength=len(ALL_COUPONS))
    language = np.bincount(sim.reviews.language, minlength=len(LANGUAGES))
    return {
        "format": FORMAT_VERSION,
        "generator": {
            "name": "ecomops.simulate",
            "version": __version__,
            "rng": "numpy PCG64, one stream per component seeded with SeedSequence([seed, crc32(component)])",
        },
        "tenant": tenant,
        "params": sim.params.to_dict(),
        "window": {
            "start": cal.start.isoformat(),
            "end": cal.date_of(cal.days - 1).isoformat(),
            "timezone": cal.timezone,
            "start_utc": _iso(int(cal.day_start_us[0])),
            "as_of_utc": _iso(sim.as_of_us),
        },
        "row_counts": counts,
        "customers": {
            "total": sim.customers.size,
            "pre_window_base": int((~sim.customers.in_window).sum()),
            "signed_up_in_window": int(sim.customers.in_window.sum()),
            "first_purchase_share_of_signups": FIRST_PURCHASE_SHARE,
            "first_order_share_target": FIRST_ORDER_SHARE,
            "activity_gamma_shape": ACTIVITY_SHAPE,
            "mean_lifetime_days": MEAN_LIFETIME_DAYS,
            "home_channel_affinity": HOME_CHANNEL_AFFINITY,
            "favourite_category_affinity": CATEGORY_AFFINITY,
            "base_sessions_per_day": round(sim.base_sessions_per_day, 3),
        },
        "channels": channel_section(sim),
        "categories": [
            {
                "key": c.key,
                "name_en": c.name_en,
                "name_zh": c.name_zh,
                "products": c.products,
                "price_elasticity": c.elasticity,
                "return_rate": c.return_rate,
                "cost_ratio": c.cost_ratio,
                "promo_depth_factor": c.promo_factor,
                "interest_share": c.share,
                "seasonality": {"amplitude": c.season_amplitude, "peak_day_of_year": c.season_peak_doy},
            }
            for c in CATEGORIES
        ],
        "price_model": {
            "demand": "P(product) ∝ popularity × (price / list_price) ** price_elasticity × "
            "(cheapest competitor / its usual level) ** cross_price_elasticity; session conversion "
            "scales with the interest-weighted sum of those weights, so units ∝ price ** elasticity",
            "cross_price_elasticity": CROSS_ELASTICITY,
            "promo_participation": PROMO_PARTICIPATION,
            "competitors": [c[0] for c in COMPETITORS],
            "competitor_tracked_share": TRACKED_SHARE,
            "product_quality": {
                pid: round(float(q), 4)
                for pid, q in zip(product_ids(catalog.size), catalog.quality, strict=True)
            },
        },
        "seasonality": {
            "weekly_multiplier": dict(zip(WEEKDAYS, [float(w) for w in WEEKLY], strict=True)),
            "annual_growth": ANNUAL_GROWTH,
            "hourly_share": [round(float(h), 5) for h in HOURLY / HOURLY.sum()],
            "festival_days": cal.festival_days,
        },
        "peaks": peaks_section(sim),
        "live": {
            "broadcasts": sim.broadcasts.size,
            "traffic_share_during_shows": live.LIVE_TRAFFIC_SHARE,
            "conversion_multiplier_live": live.LIVE_CONVERSION_MULTIPLIER,
            "conversion_multiplier_short_video": live.SHORT_VIDEO_CONVERSION_MULTIPLIER,
            "broadcast_day_traffic_lift": live.BROADCAST_DAY_LIFT,
        },
        "campaigns": campaigns_section(sim),
        "ads_model": {
            "paid_share_at_reference": PAID_SHARE,
            "festival_budget_elasticity": FESTIVAL_BUDGET_ELASTICITY,
            "clicks": "spend / cpc × (spend / reference_daily_spend) ** -saturation_exponent",
            "incrementality": "share of a campaign's clicks that add sessions; the rest replace "
            "organic sessions that would have happened anyway",
        },
        "coupons": [{**c.describe(), "orders": int(coupon_use[i])} for i, c in enumerate(ALL_COUPONS)],
        "abuse_ring": abuse_section(sim),
        "stockouts": stockouts_section(sim),
        "returns": {
            "refunds": len(sim.refunds.line),
            "model": "P(return) = category return_rate × (0.5 + 2.5 × (1 - product quality))",
        },
        "reviews": {
            "languages": {lang: int(n) for lang, n in zip(LANGUAGES, language, strict=True)},
            "ratings": {str(r): int((sim.reviews.rating == r).sum()) for r in range(1, 6)},
            "review_probability": REVIEW_PROBABILITY,
            "rating_model": f"1 + number of cuts {RATING_CUTS.tolist()} below quality + N(0, 0.12) - 0.35 "
            "if returned; text sentiment follows the rating (1-2 negative, 3 neutral, 4-5 "
            "positive)",
        },
        "click_hotspots": {
            "coordinates": "CSS pixels from the page's top-left; x / context.screen.width is the "
            f"relative x; page height = {hotspots.PAGE_SCREENS} screens",
            "background_share": hotspots.BACKGROUND_SHARE,
            "spots": hotspots.describe(),
        },
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write atomically so a reader never sees half a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
