"""Sessions: how many arrive per day and channel (organic + paid), when (local intra-day curve, live
shows), from where and on what device, and how far down the view → cart → checkout → pay funnel they go.

Conversion is decided per session with a probability that is recorded, so the manifest can state the
rate used and tests can compare it with the realised one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import EVENING, HOURLY, RUSH, Calendar, sample_local_seconds
from ecomops.simulate.geo import Geo
from ecomops.simulate.live import (
    BROADCAST_DAY_LIFT,
    LIVE_CONVERSION_MULTIPLIER,
    LIVE_TRAFFIC_SHARE,
    SHORT_VIDEO_CONVERSION_MULTIPLIER,
    Broadcasts,
)
from ecomops.simulate.marketing import CAMPAIGNS, PAID_SHARE, AdPlan

CHANNELS = ("web", "wechat_mini", "douyin", "tmall", "jd")
DOUYIN = CHANNELS.index("douyin")
#: Organic traffic split at list prices.
CHANNEL_SHARE = np.array([0.22, 0.20, 0.18, 0.24, 0.16])
#: Session → paid order probability at list prices on an ordinary day (before live/campaign multipliers).
BASE_CONVERSION = np.array([0.022, 0.035, 0.028, 0.045, 0.040])
BOUNCE = np.array([0.42, 0.30, 0.35, 0.28, 0.30])
EXTRA_VIEWS = np.array([1.6, 1.4, 1.0, 2.0, 1.8])
#: Non-buying sessions: add-to-cart rate (given no bounce) and checkout rate given a cart.
ADD_RATE = np.array([0.10, 0.12, 0.10, 0.12, 0.11])
CHECKOUT_RATE = np.array([0.35, 0.30, 0.25, 0.30, 0.30])
EXTRA_ITEMS = np.array([0.35, 0.30, 0.20, 0.40, 0.40])

DEVICES = ("mobile", "desktop", "tablet")
DEVICE_MIX = np.array([[0.60, 0.35, 0.05], [1, 0, 0], [1, 0, 0], [0.85, 0.13, 0.02], [0.85, 0.13, 0.02]])
SCREENS = np.array([[390, 844], [1440, 900], [820, 1180]])
OS_NAMES = ("iOS", "Android", "HarmonyOS", "Windows", "macOS", "iPadOS")
PHONE_OS_MIX = np.array([0.42, 0.46, 0.12])
LOCALES = ("zh-CN", "en-US")
#: Probability a visitor of each channel browses in English (the own site serves overseas Chinese too).
ENGLISH_SHARE = np.array([0.30, 0.03, 0.02, 0.05, 0.05])

PAGE_TYPES = ("Home", "Category", "Product", "Search Results", "Live Room", "Short Video")
# Organic landing page mix per channel over PAGE_TYPES.
ORGANIC_LANDING = np.array(
    [
        [0.60, 0.15, 0.25, 0.0, 0.0, 0.0],
        [0.70, 0.0, 0.30, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [0.20, 0.0, 0.25, 0.55, 0.0, 0.0],
        [0.20, 0.0, 0.25, 0.55, 0.0, 0.0],
    ]
)
REFERRERS = tuple(
    dict.fromkeys(
        ("https://www.baidu.com/", "https://www.xiaohongshu.com/", *(c.referrer for c in CAMPAIGNS))
    )
)


@dataclass
class Sessions:
    """One row per session (column arrays). ``customer`` is filled in by ``people``."""

    day: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    incremental: np.ndarray
    live: np.ndarray
    start_us: np.ndarray
    city: np.ndarray
    device: np.ndarray
    os: np.ndarray
    locale: np.ndarray
    landing: np.ndarray
    referrer: np.ndarray
    p_conversion: np.ndarray
    converted: np.ndarray
    focus: np.ndarray
    n_views: np.ndarray
    n_clicks: np.ndarray
    added: np.ndarray
    checkout: np.ndarray
    n_items: np.ndarray
    abuser: np.ndarray
    customer: np.ndarray
    signup: np.ndarray

    @property
    def size(self) -> int:
        return len(self.day)


def session_counts(
    rng: np.random.Generator, cal: Calendar, ads: AdPlan, live_days: np.ndarray, base_per_day: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(day, channel, campaign, incremental) per session: organic Poisson traffic minus the paid clicks
    that would have come anyway, plus all paid clicks."""
    douyin_lift = np.where(live_days, BROADCAST_DAY_LIFT, 1.0)
    lam = base_per_day * (1.0 - PAID_SHARE) * np.outer(cal.traffic, CHANNEL_SHARE)
    lam[:, DOUYIN] *= douyin_lift / douyin_lift.mean()
    organic = rng.poisson(lam)
    camp_channel = np.array([CHANNELS.index(c.channel) for c in CAMPAIGNS])
    for k in range(len(CAMPAIGNS)):
        organic[:, camp_channel[k]] -= ads.clicks[:, k] - ads.incremental[:, k]
    organic = np.maximum(organic, 0)
    n_days, n_ch = organic.shape
    day = np.repeat(np.repeat(np.arange(n_days, dtype=np.int32), n_ch), organic.ravel())
    channel = np.repeat(np.tile(np.arange(n_ch, dtype=np.int8), n_days), organic.ravel())
    campaign = np.full(len(day), -1, dtype=np.int8)
    incremental = np.zeros(len(day), dtype=bool)
    n_camp = len(CAMPAIGNS)
    paid_day = np.repeat(np.repeat(np.arange(n_days, dtype=np.int32), n_camp), ads.clicks.ravel())
    paid_camp = np.repeat(np.tile(np.arange(n_camp, dtype=np.int8), n_days), ads.clicks.ravel())
    # Within each (day, campaign) block the first `incremental` clicks are the added ones.
    block_start = np.repeat(np.cumsum(ads.clicks.ravel()) - ads.clicks.ravel(), ads.clicks.ravel())
    rank = np.arange(len(paid_day)) - block_start
    paid_incr = rank < np.repeat(ads.incremental.ravel(), ads.clicks.ravel())
    return (
        np.concatenate([day, paid_day]),
        np.concatenate([channel, camp_channel[paid_camp].astype(np.int8)]),
        np.concatenate([campaign, paid_camp]),
        np.concatenate([incremental, paid_incr]),
    )


def session_times(
    rng: np.random.Generator, cal: Calendar, day: np.ndarray, channel: np.ndarray, broadcasts: Broadcasts
) -> tuple[np.ndarray, np.ndarray]:
    """UTC start (µs) and broadcast index (-1 if none) per session."""
    n = len(day)
    seconds = np.empty(n)
    douyin = channel == DOUYIN
    rush = cal.rush[day]
    for mask, profile in ((~douyin & ~rush, HOURLY), (~douyin & rush, RUSH), (douyin, EVENING)):
        idx = np.flatnonzero(mask)
        seconds[idx] = sample_local_seconds(rng, len(idx), profile)
    live = np.full(n, -1, dtype=np.int32)
    first = np.searchsorted(broadcasts.day, np.arange(cal.days))
    count = np.searchsorted(broadcasts.day, np.arange(cal.days), side="right") - first
    candidates = np.flatnonzero(douyin & (count[day] > 0))
    chosen = candidates[rng.random(len(candidates)) < LIVE_TRAFFIC_SHARE]
    pick = first[day[chosen]] + (rng.random(len(chosen)) * count[day[chosen]]).astype(np.int64)
    live[chosen] = pick
    seconds[chosen] = broadcasts.start_s[pick] + rng.random(len(chosen)) * broadcasts.duration_s[pick]
    return cal.local_to_utc(day, seconds), live


def visitor_attributes(
    rng: np.random.Generator, geo: Geo, channel: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """City, device, OS and locale of an unknown visitor (known customers' are overwritten later)."""
    n = len(channel)
    cum = np.cumsum(DEVICE_MIX, axis=1)[channel]
    device = (rng.random(n)[:, None] > cum).sum(axis=1).astype(np.int8)
    device = np.minimum(device, len(DEVICES) - 1).astype(np.int8)
    phone_os = rng.choice(3, size=n, p=PHONE_OS_MIX).astype(np.int8)
    desktop_os = np.where(rng.random(n) < 0.8, 3, 4).astype(np.int8)
    os_ = np.where(device == 0, phone_os, np.where(device == 1, desktop_os, 5)).astype(np.int8)
    locale = (rng.random(n) < ENGLISH_SHARE[channel]).astype(np.int8)
    return geo.sample_cities(rng, n), device, os_, locale


def landing_pages(
    rng: np.random.Generator, channel: np.ndarray, campaign: np.ndarray, live: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Landing page type and referrer index (-1 = direct) per session."""
    n = len(channel)
    cum = np.cumsum(ORGANIC_LANDING, axis=1)[channel]
    landing = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), len(PAGE_TYPES) - 1).astype(np.int8)
    landing[live >= 0] = PAGE_TYPES.index("Live Room")
    paid = campaign >= 0
    camp_landing = np.array([PAGE_TYPES.index(c.landing) for c in CAMPAIGNS], dtype=np.int8)
    landing[paid] = camp_landing[campaign[paid]]
    referrer = np.full(n, -1, dtype=np.int8)
    u = rng.random(n)
    web = (channel == 0) & ~paid
    referrer[web & (u < 0.30)] = 0
    referrer[web & (u >= 0.30) & (u < 0.40)] = 1
    camp_ref = np.array([REFERRERS.index(c.referrer) for c in CAMPAIGNS], dtype=np.int8)
    referrer[paid] = camp_ref[campaign[paid]]
    return landing, referrer


def conversion_probability(
    cal: Calendar,
    day: np.ndarray,
    channel: np.ndarray,
    campaign: np.ndarray,
    live: np.ndarray,
    price_multiplier: np.ndarray,
) -> np.ndarray:
    """The per-session probability of a paid order, before stock-outs can take items away."""
    p = BASE_CONVERSION[channel] * cal.conversion[day] * price_multiplier[day]
    camp_mult = np.array([c.conversion_multiplier for c in CAMPAIGNS])
    paid = campaign >= 0
    p[paid] *= camp_mult[campaign[paid]]
    douyin = channel == DOUYIN
    p[douyin] *= np.where(live[douyin] >= 0, LIVE_CONVERSION_MULTIPLIER, SHORT_VIDEO_CONVERSION_MULTIPLIER)
    return np.asarray(np.minimum(p, 0.9))


def funnel(
    rng: np.random.Generator, channel: np.ndarray, converted: np.ndarray, landing: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(views, clicks, added, checkout, items) per session. Buyers always view, add and check out, so
    the funnel is monotone by construction; non-buyers bounce, browse, and sometimes abandon a cart."""
    n = len(channel)
    bounced = ~converted & (rng.random(n) < BOUNCE[channel])
    n_items = np.where(converted, 1 + np.minimum(rng.poisson(EXTRA_ITEMS[channel]), 4), 0).astype(np.int16)
    views = np.where(bounced, 0, 1 + rng.poisson(EXTRA_VIEWS[channel])).astype(np.int16)
    views = np.maximum(views, n_items)
    views[bounced & (landing == PAGE_TYPES.index("Product"))] = 1
    clicks = np.minimum(rng.poisson(0.5 + 0.4 * views), 8).astype(np.int16)
    added = ~converted & ~bounced & (views > 0) & (rng.random(n) < ADD_RATE[channel])
    checkout = added & (rng.random(n) < CHECKOUT_RATE[channel])
    return views, clicks, added, checkout, n_items
