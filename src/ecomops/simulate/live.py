"""Douyin live-stream broadcasts: most Douyin traffic on a broadcast day arrives during the show, converts
better than short-video traffic, and orders carry the broadcast's ``live_session_id``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ecomops.simulate.calendar import US_PER_SECOND, Calendar

HOSTS = (("小鹿", "Xiaolu"), ("阿杰", "A-Jie"), ("Momo", "Momo"), ("甜甜", "Tiantian"))
THEMES = ("新品首发", "宠粉福利夜", "会员专场", "工厂直供", "限时秒杀", "好物分享")
FESTIVAL_THEMES = {"618": "618狂欢夜", "double11": "双11预售专场", "double12": "双12返场"}
#: Monday..Sunday probability of an evening show.
SHOW_PROBABILITY = np.array([0.4, 0.7, 0.4, 0.7, 0.6, 0.9, 0.9])
#: On a broadcast day this share of Douyin sessions happens during a show.
LIVE_TRAFFIC_SHARE = 0.7
#: Douyin traffic on broadcast days relative to quiet days.
BROADCAST_DAY_LIFT = 1.6
LIVE_CONVERSION_MULTIPLIER = 1.9
SHORT_VIDEO_CONVERSION_MULTIPLIER = 0.6


@dataclass
class Broadcasts:
    day: np.ndarray
    start_s: np.ndarray  # local seconds after midnight
    duration_s: np.ndarray
    host: np.ndarray
    title: list[str]

    @property
    def size(self) -> int:
        return len(self.day)

    def live_days(self, n_days: int) -> np.ndarray:
        mask = np.zeros(n_days, dtype=bool)
        mask[self.day] = True
        return mask

    def start_us(self, cal: Calendar) -> np.ndarray:
        return cal.local_to_utc(self.day, self.start_s.astype(float))

    def end_us(self, cal: Calendar) -> np.ndarray:
        return self.start_us(cal) + self.duration_s.astype(np.int64) * US_PER_SECOND


def schedule_broadcasts(rng: np.random.Generator, cal: Calendar) -> Broadcasts:
    """Evening shows on most days (every day in festival windows), plus an afternoon show on peak days."""
    festival_name = {
        (date.fromisoformat(f["date"]) - cal.start).days: str(f["name"]) for f in cal.festival_days
    }
    evening = (rng.random(cal.days) < SHOW_PROBABILITY[cal.weekday]) | (cal.festival > 1.2)
    days = list(np.flatnonzero(evening))
    starts = list(19 * 3600 + 900 * rng.integers(0, 7, len(days)))
    durations = list(1800 * rng.integers(4, 9, len(days)))
    afternoon = np.flatnonzero(cal.rush)
    days += list(afternoon)
    starts += [14 * 3600] * len(afternoon)
    durations += [7200] * len(afternoon)
    order = np.lexsort((np.array(starts), np.array(days)))
    day = np.array(days, dtype=np.int32)[order]
    start = np.array(starts, dtype=np.int32)[order]
    # Shows end by local midnight, so every session (and the window's last day) stays inside its day.
    duration = np.minimum(np.array(durations, dtype=np.int32)[order], 86_400 - start)
    host = rng.integers(0, len(HOSTS), len(day)).astype(np.int8)
    theme = rng.integers(0, len(THEMES), len(day))
    titles = []
    for i in range(len(day)):
        name = FESTIVAL_THEMES.get(festival_name.get(int(day[i]), ""), THEMES[theme[i]])
        titles.append(f"{HOSTS[host[i]][0]}的直播间 · {name}")
    return Broadcasts(day, start, duration, host, titles)
