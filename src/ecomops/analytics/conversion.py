"""Currency conversion for reports: a tenant's dated FX rates as spans of UTC instants.

A rate is in effect from the local midnight of its ``valid_from`` day (in the tenant's zone, mapped
with zoneinfo, never DuckDB's ICU data: see ARCHITECTURE "Known pitfalls") until the next rate of the
same currency. A fact converts with the span that contains its instant, i.e. the latest rate on or
before its local day; a fact before a currency's first rate has no span and stays unconverted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from ecomops.analytics.periods import local_midnight

#: The end of the last span of a currency: its rate applies from then on.
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
LAST_DAY = date(9999, 1, 1)


class DatedRate(Protocol):
    """What a rate needs to say (``fx.service.Rate`` has it)."""

    @property
    def currency(self) -> str: ...

    @property
    def valid_from(self) -> date: ...

    @property
    def rate(self) -> Decimal: ...


@dataclass(frozen=True)
class RateSpan:
    currency: str
    #: [start, end): UTC instants of the local midnights of the first day and of the next rate's day.
    start: datetime
    end: datetime
    #: [first_day, end_day): the same span in local days (for facts kept per day: ad spend).
    first_day: date
    end_day: date
    rate: Decimal


def spans(rates: Iterable[DatedRate], timezone: str) -> tuple[RateSpan, ...]:
    """Each rate with the instants it is in effect between, in the tenant's zone."""
    zone = ZoneInfo(timezone)
    by_currency: dict[str, list[DatedRate]] = {}
    for r in rates:
        by_currency.setdefault(r.currency, []).append(r)
    out: list[RateSpan] = []
    for currency, items in sorted(by_currency.items()):
        items.sort(key=lambda r: r.valid_from)
        for r, nxt in zip(items, [*items[1:], None], strict=True):
            end_day = nxt.valid_from if nxt is not None else LAST_DAY
            end = local_midnight(nxt.valid_from, zone) if nxt is not None else FOREVER
            out.append(
                RateSpan(currency, local_midnight(r.valid_from, zone), end, r.valid_from, end_day, r.rate)
            )
    return tuple(out)
