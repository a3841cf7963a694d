"""Paid campaigns. Spend buys clicks with diminishing returns, every click is a session, and only a known
share of those sessions is incremental: the rest would have come organically (brand search, retargeting),
so the simulation takes them out of organic traffic. That makes both attributed and true ROAS meaningful."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ecomops.simulate.calendar import Calendar
from ecomops.simulate.params import Shop


@dataclass(frozen=True)
class Campaign:
    source: str
    medium: str
    name: str
    channel: str
    cpc: float  # yuan per click at the reference daily spend
    conversion_multiplier: float
    incrementality: float  # share of its clicks that would not have happened without it
    click_share: float  # share of paid clicks at reference spend
    flight: str  # always | pulsed | festival | live
    ctr: float
    referrer: str
    landing: str  # page type the ads point to


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        "baidu",
        "cpc",
        "brand_search_always_on",
        "web",
        1.5,
        1.5,
        0.25,
        0.14,
        "always",
        0.06,
        "https://www.baidu.com/",
        "Home",
    ),
    Campaign(
        "baidu",
        "cpc",
        "generic_search_pulse",
        "web",
        3.2,
        0.9,
        0.80,
        0.10,
        "pulsed",
        0.02,
        "https://www.baidu.com/",
        "Category",
    ),
    Campaign(
        "wechat",
        "paid_social",
        "moments_feed_ads",
        "wechat_mini",
        2.0,
        0.7,
        0.90,
        0.14,
        "always",
        0.012,
        "https://weixin.qq.com/",
        "Product",
    ),
    Campaign(
        "tencent",
        "display",
        "gdt_retargeting",
        "wechat_mini",
        1.2,
        1.4,
        0.30,
        0.10,
        "always",
        0.008,
        "https://e.qq.com/",
        "Product",
    ),
    Campaign(
        "douyin",
        "paid_social",
        "qianchuan_live_boost",
        "douyin",
        1.0,
        1.1,
        0.85,
        0.16,
        "live",
        0.015,
        "https://www.douyin.com/",
        "Live Room",
    ),
    Campaign(
        "xiaohongshu",
        "kol",
        "kol_seeding_festival",
        "tmall",
        2.6,
        0.8,
        0.95,
        0.08,
        "festival",
        0.01,
        "https://www.xiaohongshu.com/",
        "Product",
    ),
    Campaign(
        "tmall",
        "cpc",
        "ztc_search",
        "tmall",
        1.8,
        1.2,
        0.50,
        0.16,
        "always",
        0.03,
        "https://s.taobao.com/",
        "Search Results",
    ),
    Campaign(
        "jd",
        "cpc",
        "jzt_search",
        "jd",
        1.6,
        1.1,
        0.50,
        0.12,
        "always",
        0.03,
        "https://search.jd.com/",
        "Search Results",
    ),
)

#: Clicks = spend / cpc × (spend / reference spend) ** -SATURATION: doubling spend buys ~1.6× the clicks.
SATURATION = 0.3
#: Share of all sessions bought by ads at reference spend.
PAID_SHARE = 0.25
#: Festival lift in ad budgets relative to the festival's traffic lift.
FESTIVAL_BUDGET_ELASTICITY = 0.6


@dataclass
class AdPlan:
    spend: np.ndarray  # days × campaigns, cents
    clicks: np.ndarray  # days × campaigns, realised clicks (= paid sessions)
    incremental: np.ndarray  # days × campaigns, clicks that add traffic
    impressions: np.ndarray
    reference_spend: np.ndarray  # cents/day per campaign


def flight_mask(cal: Calendar, campaign: Campaign, index: int, live_days: np.ndarray) -> np.ndarray:
    days = np.arange(cal.days)
    if campaign.flight == "always":
        return np.ones(cal.days, dtype=bool)
    if campaign.flight == "pulsed":  # 3 weeks on, 2 off: variation an MMM can learn from
        return ((days + 7 * index) % 35) < 21
    if campaign.flight == "live":
        return live_days
    # festival: the four weeks before each festival peak, up to the peak
    mask = np.zeros(cal.days, dtype=bool)
    for peak in cal.peaks:
        i = cal.index_of(date.fromisoformat(peak["date"]))
        if i is not None:
            mask[max(0, i - 28) : i + 1] = True
    return mask


def plan_ads(
    rng: np.random.Generator, cal: Calendar, shop: Shop, sessions_per_day: float, live_days: np.ndarray
) -> AdPlan:
    """Daily spend per campaign and the clicks it buys; ``sessions_per_day`` is the shop's base traffic."""
    n_days, n_camp = cal.days, len(CAMPAIGNS)
    spend = np.zeros((n_days, n_camp))
    ref = np.zeros(n_camp)
    expected_clicks = np.zeros((n_days, n_camp))
    budget_lift = 1.0 + FESTIVAL_BUDGET_ELASTICITY * np.maximum(cal.festival - 1.0, 0.0)
    for k, c in enumerate(CAMPAIGNS):
        ref_clicks = sessions_per_day * PAID_SHARE * c.click_share
        ref[k] = ref_clicks * shop.cents(c.cpc)
        noise = rng.lognormal(0.0, 0.2, n_days)
        spend[:, k] = np.round(ref[k] * budget_lift * cal.trend * noise * flight_mask(cal, c, k, live_days))
        cpc = shop.cents(c.cpc) * np.power(np.maximum(spend[:, k], 1.0) / ref[k], SATURATION)
        expected_clicks[:, k] = np.where(spend[:, k] > 0, spend[:, k] / cpc, 0.0)
    clicks = rng.poisson(expected_clicks)
    incr = np.array([c.incrementality for c in CAMPAIGNS])
    incremental = rng.binomial(clicks, np.broadcast_to(incr, clicks.shape))
    ctr = np.array([c.ctr for c in CAMPAIGNS])
    impressions = np.round(clicks / (ctr[None, :] * rng.lognormal(0.0, 0.1, clicks.shape))).astype(np.int64)
    return AdPlan(spend.astype(np.int64), clicks, incremental, impressions, ref)
