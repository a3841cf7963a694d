"""Time buckets in the tenant's time zone, and the periods comparisons are made against.

Facts are stored in UTC. A bucket is a local calendar unit (hour, day, ISO week starting Monday,
month) turned into a half-open UTC interval ``[start, end)``; facts are assigned to buckets by a
range join on those instants. Computing the boundaries here with ``zoneinfo`` (instead of a
database's time-zone functions) keeps the expressions portable across Ibis backends and gets
daylight-saving days right (a local day can be 23 or 25 hours long).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ecomops.kernel.errors import ValidationFailed


class Granularity(StrEnum):
    hour = "hour"
    day = "day"
    week = "week"
    month = "month"


#: Longest window per granularity, in local days (bounds the work and the response size).
MAX_DAYS: dict[Granularity, int] = {
    Granularity.hour: 93,
    Granularity.day: 1100,
    Granularity.week: 3700,
    Granularity.month: 3700,
}


@dataclass(frozen=True)
class Bucket:
    """One local period: ``label`` for people, ``[start, end)`` UTC instants for timestamps and
    ``[first_day, end_day)`` local dates for daily facts (ad spend)."""

    label: str
    start: datetime
    end: datetime
    first_day: date
    end_day: date


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def snap(first: date, last: date, granularity: Granularity) -> tuple[date, date]:
    """Widen [first, last] to whole weeks (Monday–Sunday) or whole months, so every bucket is complete."""
    if granularity is Granularity.week:
        return first - timedelta(days=first.weekday()), last + timedelta(days=6 - last.weekday())
    if granularity is Granularity.month:
        return first.replace(day=1), _add_months(last.replace(day=1), 1) - timedelta(days=1)
    return first, last


def _add_months(day: date, months: int) -> date:
    """The same day-of-month ``months`` later (day must be ≤ 28 or the 1st: callers pass firsts)."""
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def minus_one_year(day: date) -> date:
    """Same calendar date a year earlier; 29 February maps to 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _day_bucket(day: date, days: int, label: str, zone: ZoneInfo) -> Bucket:
    end = day + timedelta(days=days)
    return Bucket(label, local_midnight(day, zone), local_midnight(end, zone), day, end)


def bucket_at(start_day: date, granularity: Granularity, zone: ZoneInfo, hour: int = 0) -> Bucket:
    """The bucket that starts on ``start_day`` (a Monday for weeks, a 1st for months)."""
    if granularity is Granularity.day:
        return _day_bucket(start_day, 1, start_day.isoformat(), zone)
    if granularity is Granularity.week:
        return _day_bucket(start_day, 7, start_day.isoformat(), zone)
    if granularity is Granularity.month:
        end = _add_months(start_day, 1)
        return _day_bucket(start_day, (end - start_day).days, start_day.strftime("%Y-%m"), zone)
    local = datetime.combine(start_day, time(hour), tzinfo=zone)
    start = local.astimezone(UTC)
    # Hours are counted on the UTC line so a DST change never yields overlapping or missing hours.
    return Bucket(
        local.isoformat(timespec="minutes"), start, start + timedelta(hours=1), start_day, start_day
    )


def buckets(first: date, last: date, granularity: Granularity, zone: ZoneInfo) -> list[Bucket]:
    """Consecutive buckets covering local days [first, last] (already snapped)."""
    out: list[Bucket] = []
    if granularity is Granularity.hour:
        start, end = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
        t = start
        while t < end:
            local = t.astimezone(zone)
            out.append(
                Bucket(
                    local.isoformat(timespec="minutes"), t, t + timedelta(hours=1), local.date(), local.date()
                )
            )
            t += timedelta(hours=1)
        return out
    day = first
    while day <= last:
        bucket = bucket_at(day, granularity, zone)
        out.append(bucket)
        day = bucket.end_day
    return out


def previous_bucket(bucket: Bucket, granularity: Granularity, zone: ZoneInfo) -> Bucket:
    """The bucket right before ``bucket`` (for the first bucket's period-over-period value)."""
    if granularity is Granularity.hour:
        start = bucket.start - timedelta(hours=1)
        local = start.astimezone(zone)
        return Bucket(local.isoformat(timespec="minutes"), start, bucket.start, local.date(), local.date())
    if granularity is Granularity.day:
        return bucket_at(bucket.first_day - timedelta(days=1), granularity, zone)
    if granularity is Granularity.week:
        return bucket_at(bucket.first_day - timedelta(days=7), granularity, zone)
    return bucket_at(_add_months(bucket.first_day, -1), granularity, zone)


def last_year_bucket(bucket: Bucket, granularity: Granularity, zone: ZoneInfo) -> Bucket:
    """The same bucket one year earlier: same date/month/hour; for weeks 52 weeks earlier (same weekday)."""
    if granularity is Granularity.hour:
        local = bucket.start.astimezone(zone)
        shifted = bucket_at(minus_one_year(local.date()), granularity, zone, hour=local.hour)
        return Bucket(bucket.label, shifted.start, shifted.end, shifted.first_day, shifted.end_day)
    if granularity is Granularity.week:
        shifted = bucket_at(bucket.first_day - timedelta(weeks=52), granularity, zone)
    else:
        shifted = bucket_at(minus_one_year(bucket.first_day), granularity, zone)
    return shifted


def span(label: str, first: Bucket, last: Bucket) -> Bucket:
    """One bucket covering ``first`` to ``last`` (window totals)."""
    return Bucket(label, first.start, last.end, first.first_day, last.end_day)


#: Days a window may touch: comparisons reach back a year and a window's length, date arithmetic must
#: stay inside Python's calendar, and a shop's data lies well within these.
MIN_DAY = date(1971, 1, 1)
MAX_DAY = date(9000, 12, 31)


def check_day(day: date | None, field: str) -> None:
    if day is not None and not MIN_DAY <= day <= MAX_DAY:
        raise ValidationFailed(
            f"{field} must be between {MIN_DAY.isoformat()} and {MAX_DAY.isoformat()}, got {day.isoformat()}",
            {"field": field},
        )


def validate_window(first: date, last: date, granularity: Granularity) -> None:
    check_day(first, "from")
    check_day(last, "to")
    if first > last:
        raise ValidationFailed(
            f"from ({first.isoformat()}) is after to ({last.isoformat()})",
            {"field": "from", "from": first.isoformat(), "to": last.isoformat()},
        )
    days = (last - first).days + 1
    if days > MAX_DAYS[granularity]:
        raise ValidationFailed(
            f"the window from {first.isoformat()} to {last.isoformat()} has {days} days; granularity "
            f"{granularity.value} allows at most {MAX_DAYS[granularity]} (use a coarser granularity)",
            {"field": "to", "days": days, "max_days": MAX_DAYS[granularity]},
        )
