"""Time: store UTC, bucket in the tenant's IANA zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ecomops.kernel.errors import ValidationFailed


def utcnow() -> datetime:
    return datetime.now(UTC)


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"unknown IANA time zone {name!r}", {"field": "timezone"}) from exc
    return name


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_micros(value: datetime) -> int:
    """Exact microseconds since the Unix epoch (integer arithmetic: no float rounding)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
