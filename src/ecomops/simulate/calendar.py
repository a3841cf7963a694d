"""The shop's calendar: day-level demand multipliers (trend, weekday, shopping festivals), promotion depth,
and the local intra-day curve sessions are drawn from before they are stored in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND

#: Monday..Sunday traffic multipliers (weekends shop more).
WEEKLY = np.array([0.96, 0.93, 0.95, 0.97, 1.03, 1.08, 1.08])
#: Yearly traffic growth of the shop.
ANNUAL_GROWTH = 1.25
#: Spring Festival eve per year: logistics stop for a week, so traffic dips (dates from the lunar calendar).
SPRING_FESTIVAL_EVE = {
    2020: date(2020, 1, 24),
    2021: date(2021, 2, 11),
    2022: date(2022, 1, 31),
    2023: date(2023, 1, 21),
    2024: date(2024, 2, 9),
    2025: date(2025, 1, 28),
    2026: date(2026, 2, 16),
    2027: date(2027, 2, 5),
    2028: date(2028, 1, 25),
    2029: date(2029, 2, 12),
    2030: date(2030, 2, 2),
}

#: Share of sessions starting in each local hour on an ordinary day (lunch bump, evening peak).
HOURLY = np.array(
    [
        1.2,
        0.6,
        0.3,
        0.2,
        0.2,
        0.3,
        0.7,
        1.5,
        2.6,
        3.4,
        4.0,
        4.3,
        4.8,
        4.4,
        4.0,
        4.1,
        4.3,
        4.4,
        4.6,
        5.4,
        6.3,
        6.9,
        6.3,
        3.8,
    ]
)
#: Peak festival days open at midnight: a rush in the first hours, then a heavier evening.
RUSH = HOURLY * np.array([7.0, 3.5, 1.5] + [1.0] * 17 + [1.3, 1.5, 1.5, 1.4])
#: Short-video (Douyin outside live shows) is an evening medium.
EVENING = HOURLY * np.array([1.3] * 7 + [0.8] * 5 + [1.2, 1.1] + [0.8] * 4 + [1.4] * 6)


@dataclass(frozen=True)
class FestivalDay:
    name: str
    day: date
    traffic: float
    promo_depth: float
    conversion: float


@dataclass
class Calendar:
    """Per-day arrays over the simulated window (index 0 = start date, local calendar days)."""

    start: date
    days: int
    timezone: str
    day_start_us: np.ndarray  # UTC microseconds of each local midnight, one extra for the end
    weekday: np.ndarray
    trend: np.ndarray
    festival: np.ndarray
    promo_depth: np.ndarray
    conversion: np.ndarray
    rush: np.ndarray
    peaks: list[dict[str, Any]] = field(default_factory=list)
    festival_days: list[dict[str, Any]] = field(default_factory=list)

    @property
    def traffic(self) -> np.ndarray:
        return np.asarray(self.trend * WEEKLY[self.weekday] * self.festival)

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=int(day))

    def index_of(self, when: date) -> int | None:
        i = (when - self.start).days
        return i if 0 <= i < self.days else None

    def day_of_year(self) -> np.ndarray:
        first = self.start.timetuple().tm_yday
        return (first + np.arange(self.days)) % 365

    def local_to_utc(self, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """UTC microseconds of a local day + seconds after local midnight (offset taken at that midnight;
        the few hours after a DST jump are off by the jump, which no analysis here can notice)."""
        return np.asarray(self.day_start_us[day] + (seconds * US_PER_SECOND).astype(np.int64))


def festival_days(year: int) -> list[FestivalDay]:
    """The festival rules of one year, ordered by date."""
    out: list[FestivalDay] = []
    for d in range(1, 18):  # 618 pre-sale ramps from June 1 to the 18th
        ramp = 1.3 + 0.7 * (d - 1) / 16
        out.append(FestivalDay("618", date(year, 6, d), ramp * (1.3 if d == 1 else 1.0), 0.10, 1.05))
    out.append(FestivalDay("618", date(year, 6, 18), 3.5, 0.20, 1.25))
    out += [FestivalDay("618", date(year, 6, d), 0.85, 0.0, 1.0) for d in (19, 20, 21)]
    for d in range(20, 32):  # Double 11 pre-sale (deposit orders) from October 20
        out.append(FestivalDay("double11", date(year, 10, d), 1.6 if d in (20, 24) else 1.3, 0.12, 1.05))
    for d in range(1, 11):
        lift = 2.0 if d <= 3 else 1.5 + 0.7 * (d - 4) / 6
        out.append(FestivalDay("double11", date(year, 11, d), lift, 0.15 if d <= 3 else 0.12, 1.1))
    out.append(FestivalDay("double11", date(year, 11, 11), 5.0, 0.25, 1.3))
    out += [FestivalDay("double11", date(year, 11, d), 0.8, 0.0, 1.0) for d in (12, 13, 14)]
    out += [FestivalDay("double12", date(year, 12, d), 1.2, 0.05, 1.0) for d in (10, 11)]
    out.append(FestivalDay("double12", date(year, 12, 12), 1.8, 0.10, 1.1))
    eve = SPRING_FESTIVAL_EVE.get(year)
    if eve is not None:
        out += [
            FestivalDay("spring_festival", eve + timedelta(days=k), 0.55, 0.0, 0.95) for k in range(-3, 7)
        ]
    return out


#: Peak days whose intra-day curve has the midnight rush.
RUSH_PEAKS = {(6, 18), (11, 11), (12, 12)}


def build_calendar(start: date, days: int, timezone: str) -> Calendar:
    tz = ZoneInfo(timezone)
    dates = [start + timedelta(days=i) for i in range(days + 1)]
    day_start_us = np.array(
        [int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()) * US_PER_SECOND for d in dates],
        dtype=np.int64,
    )
    weekday = np.array([d.weekday() for d in dates[:days]], dtype=np.int8)
    trend = ANNUAL_GROWTH ** (np.arange(days) / 365.0)
    festival = np.ones(days)
    promo = np.zeros(days)
    conversion = np.ones(days)
    rush = np.zeros(days, dtype=bool)
    peaks: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    for year in range(start.year, dates[-1].year + 1):
        for f in festival_days(year):
            i = (f.day - start).days
            if not 0 <= i < days:
                continue
            festival[i], promo[i], conversion[i] = f.traffic, f.promo_depth, f.conversion
            entry = {
                "name": f.name,
                "date": f.day.isoformat(),
                "traffic_multiplier": f.traffic,
                "promo_depth": f.promo_depth,
                "conversion_multiplier": f.conversion,
            }
            listed.append(entry)
            if (f.day.month, f.day.day) in RUSH_PEAKS:
                rush[i] = True
                peaks.append(entry)
    return Calendar(
        start, days, timezone, day_start_us, weekday, trend, festival, promo, conversion, rush, peaks, listed
    )


def sample_local_seconds(rng: np.random.Generator, n: int, profile: np.ndarray) -> np.ndarray:
    """Seconds after local midnight following an hourly profile (uniform within the hour)."""
    hours = rng.choice(24, size=n, p=profile / profile.sum())
    return hours * 3600 + rng.random(n) * 3600
