"""Customers and who is behind each session.

The customer count is exact: a base that signed up before the window, and in-window sign-ups that are
the buyers of first orders (a fixed share of converting sessions) or browsers who registered. Repeat
orders and logged-in visits go to existing customers with Gamma-distributed activity (so purchase counts
are NBD-like), an exponential lifetime (dropout), and affinity to their home channel and favourite category.
A planted ring of accounts shares devices and addresses and each uses the new-customer coupon once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ecomops.simulate.calendar import US_PER_DAY, Calendar
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.geo import Geo
from ecomops.simulate.traffic import CHANNEL_SHARE, CHANNELS, ENGLISH_SHARE, PHONE_OS_MIX, Sessions

#: Share of in-window sign-ups whose sign-up session ends in an order (the rest only browse).
FIRST_PURCHASE_SHARE = 0.6
#: Share of all orders that are first orders; with the line above it sets the traffic volume.
FIRST_ORDER_SHARE = 0.45
#: Non-buying sessions by logged-in customers, per channel.
KNOWN_SHARE = np.array([0.35, 0.55, 0.30, 0.45, 0.45])
ACTIVITY_SHAPE = 0.6
MEAN_LIFETIME_DAYS = 600
HOME_CHANNEL_AFFINITY = 3.0
CATEGORY_AFFINITY = 4.0
BASE_HISTORY_DAYS = 3 * 365
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
GENDERS = ("female", "male")


@dataclass(frozen=True)
class CustomerSplit:
    base: int
    new_regular: int
    abusers: int

    @property
    def total(self) -> int:
        return self.base + self.new_regular + self.abusers


def split_customers(customers: int, days: int) -> CustomerSplit:
    abusers = int(np.clip(round(customers / 1250), 8, 60))
    new = round(customers * days / (days + 240))
    new = min(max(new, abusers + 1), customers - 1)
    return CustomerSplit(customers - new, new - abusers, abusers)


@dataclass
class Customers:
    signup_us: np.ndarray
    churn_us: np.ndarray
    activity: np.ndarray
    home_channel: np.ndarray
    primary_category: np.ndarray
    city: np.ndarray
    phone_os: np.ndarray
    desktop_os: np.ndarray
    locale: np.ndarray
    gender: np.ndarray
    age_band: np.ndarray
    device_key: np.ndarray
    address_key: np.ndarray
    abuser: np.ndarray
    in_window: np.ndarray

    @property
    def size(self) -> int:
        return len(self.signup_us)


@dataclass(frozen=True)
class Ring:
    """The planted coupon-abuse ring's shared attributes (manifest ground truth)."""

    city: int
    device_keys: np.ndarray
    address_keys: np.ndarray
    burst_days: np.ndarray
    coupon: str

    def describe(self, cal: Calendar, geo: Geo) -> dict[str, Any]:
        return {
            "city": geo.city_en[self.city],
            "device_ids": [device_id(int(k)) for k in self.device_keys],
            "address_hashes": [address_hash(int(k)) for k in self.address_keys],
            "burst_dates": [cal.date_of(int(d)).isoformat() for d in self.burst_days],
            "coupon": self.coupon,
        }


def device_id(key: int) -> str:
    return f"sim_dev{key:012x}"


def address_hash(key: int) -> str:
    return f"addr_{key:012x}"


def choose_signups(rng: np.random.Generator, s: Sessions, split: CustomerSplit) -> tuple[np.ndarray, int]:
    """Mark sign-up and logged-in sessions; returns sign-up session indices and any customers that must
    join the pre-window base because there were too few sessions to sign up in (tiny configurations)."""
    regular = ~s.abuser
    conv = np.flatnonzero(s.converted & regular)
    n_first = min(round(FIRST_PURCHASE_SHARE * split.new_regular), len(conv))
    first = rng.choice(conv, n_first, replace=False)
    known = np.zeros(s.size, dtype=bool)
    known[conv] = True
    known[first] = False
    browsing = np.flatnonzero(~s.converted & regular)
    known[browsing] = rng.random(len(browsing)) < KNOWN_SHARE[s.channel[browsing]]
    prospects = browsing[~known[browsing]]
    n_browse = min(split.new_regular - n_first, len(prospects))
    browse = rng.choice(prospects, n_browse, replace=False)
    signups = np.sort(np.concatenate([first, browse, np.flatnonzero(s.abuser)]))
    s.signup[signups] = True
    s.customer[known] = -2  # marker: to be assigned to an existing customer
    return signups, split.new_regular - n_first - n_browse


def build_customers(
    rng: np.random.Generator,
    cal: Calendar,
    geo: Geo,
    s: Sessions,
    signups: np.ndarray,
    n_base: int,
    ring: Ring,
) -> Customers:
    """Customers ordered by sign-up time (so ids read chronologically); links sign-up sessions to them."""
    n_new = len(signups)
    window_start = cal.day_start_us[0]
    base_signup = window_start - (rng.random(n_base) * BASE_HISTORY_DAYS * US_PER_DAY).astype(np.int64) - 1
    base_city = geo.sample_cities(rng, n_base)
    base_home = rng.choice(len(CHANNELS), n_base, p=CHANNEL_SHARE).astype(np.int8)
    shares = np.array([c.share for c in CATEGORIES])
    base_primary = rng.choice(len(CATEGORIES), n_base, p=shares / shares.sum()).astype(np.int8)
    base_locale = (rng.random(n_base) < ENGLISH_SHARE[base_home]).astype(np.int8)
    n = n_base + n_new
    phone_os = rng.choice(3, n, p=PHONE_OS_MIX).astype(np.int8)
    desktop_os = np.where(rng.random(n) < 0.8, 3, 4).astype(np.int8)
    sess_dev, sess_os = s.device[signups], s.os[signups]
    phone_os[n_base:] = np.where(sess_dev == 0, sess_os, phone_os[n_base:])
    desktop_os[n_base:] = np.where(sess_dev == 1, sess_os, desktop_os[n_base:])
    signup_us = np.concatenate([base_signup, s.start_us[signups]])
    abuser = np.concatenate([np.zeros(n_base, dtype=bool), s.abuser[signups]])
    activity = rng.gamma(ACTIVITY_SHAPE, 1.0 / ACTIVITY_SHAPE, n)
    activity[abuser] = 0.0  # throwaway accounts never come back
    lifetime = (rng.exponential(MEAN_LIFETIME_DAYS, n) * US_PER_DAY).astype(np.int64)
    device_key = rng.integers(1, 2**48, n)
    address_key = rng.integers(1, 2**48, n)
    ab = np.flatnonzero(abuser)
    device_key[ab] = ring.device_keys[rng.integers(0, len(ring.device_keys), len(ab))]
    address_key[ab] = ring.address_keys[rng.integers(0, len(ring.address_keys), len(ab))]
    customers = Customers(
        signup_us=signup_us,
        churn_us=signup_us + lifetime,
        activity=activity,
        home_channel=np.concatenate([base_home, s.channel[signups]]),
        primary_category=np.concatenate([base_primary, s.focus[signups]]),
        city=np.concatenate([base_city, s.city[signups]]),
        phone_os=phone_os,
        desktop_os=desktop_os,
        locale=np.concatenate([base_locale, s.locale[signups]]),
        gender=(rng.random(n) < 0.38).astype(np.int8),
        age_band=rng.choice(len(AGE_BANDS), n, p=[0.22, 0.41, 0.24, 0.13]).astype(np.int8),
        device_key=device_key,
        address_key=address_key,
        abuser=abuser,
        in_window=np.arange(n) >= n_base,
    )
    order = np.argsort(customers.signup_us, kind="stable")
    for name, value in list(vars(customers).items()):
        setattr(customers, name, value[order])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    s.customer[signups] = rank[n_base + np.arange(n_new)]
    return customers


def assign_known_sessions(rng: np.random.Generator, cal: Calendar, s: Sessions, c: Customers) -> None:
    """Give every logged-in session a customer: eligible that week (signed up, not churned), weighted by
    activity × home-channel affinity × favourite-category affinity."""
    todo = np.flatnonzero(s.customer == -2)
    n_ch, n_cat = len(CHANNELS), len(CATEGORIES)
    week = s.day[todo] // 7
    key = (week.astype(np.int64) * n_ch + s.channel[todo]) * n_cat + s.focus[todo]
    order = np.argsort(key, kind="stable")
    todo, key = todo[order], key[order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    groups = np.split(np.arange(len(todo)), bounds)
    fallback = np.flatnonzero(~c.in_window & (c.activity > 0))
    current_week = -1
    elig = np.empty(0, dtype=np.int64)
    lam, home, prim = np.empty(0), np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int8)
    for g in groups:
        k = int(key[g[0]])
        w, rest = divmod(k, n_ch * n_cat)
        ch, cat = divmod(rest, n_cat)
        if w != current_week:
            current_week = w
            week_start = cal.day_start_us[min(7 * w, cal.days - 1)]
            elig = np.flatnonzero((c.signup_us < week_start) & (c.churn_us > week_start) & (c.activity > 0))
            if len(elig) == 0:
                elig = fallback
            lam, home, prim = c.activity[elig], c.home_channel[elig], c.primary_category[elig]
        weight = (
            lam
            * np.where(home == ch, HOME_CHANNEL_AFFINITY, 1.0)
            * np.where(prim == cat, CATEGORY_AFFINITY, 1.0)
        )
        cum = np.cumsum(weight)
        pick = np.searchsorted(cum, rng.random(len(g)) * cum[-1], side="right")
        s.customer[todo[g]] = elig[np.minimum(pick, len(elig) - 1)]
    known = np.flatnonzero((s.customer >= 0) & ~s.signup)
    cust = s.customer[known]
    s.city[known] = c.city[cust]
    s.locale[known] = c.locale[cust]
    dev = s.device[known]
    s.os[known] = np.where(dev == 0, c.phone_os[cust], np.where(dev == 1, c.desktop_os[cust], s.os[known]))
