"""Seeding parameters, the shop's locale, and the random streams every component draws from."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from ecomops.kernel.errors import ValidationFailed

#: Fixed default so a seed reproduces the same shop whatever day it runs (``--end-date`` moves it).
DEFAULT_END_DATE = date(2026, 11, 30)
DEFAULT_DAYS = 400
DEFAULT_CUSTOMERS = 50_000
DEFAULT_SEED = 42

MIN_DAYS, MAX_DAYS = 14, 1830
MIN_CUSTOMERS, MAX_CUSTOMERS = 500, 1_000_000

#: Every id the simulator writes starts with this, so a re-seed can replace exactly its own rows.
ID_PREFIX = "sim_"

#: Rough CNY → currency factors: the catalogue is priced in yuan; other tenants get comparable levels.
MONEY_SCALE = {"CNY": 1.0, "HKD": 1.1, "USD": 0.14, "EUR": 0.13, "GBP": 0.11, "JPY": 21.0, "SGD": 0.19}


@dataclass(frozen=True)
class SeedParams:
    """What the user chooses; everything else is derived from these so equal params give equal data."""

    days: int = DEFAULT_DAYS
    customers: int = DEFAULT_CUSTOMERS
    seed: int = DEFAULT_SEED
    end_date: date = DEFAULT_END_DATE

    def validated(self) -> SeedParams:
        if not MIN_DAYS <= self.days <= MAX_DAYS:
            raise ValidationFailed(f"days must be between {MIN_DAYS} and {MAX_DAYS}", {"field": "days"})
        if not MIN_CUSTOMERS <= self.customers <= MAX_CUSTOMERS:
            raise ValidationFailed(
                f"customers must be between {MIN_CUSTOMERS} and {MAX_CUSTOMERS}", {"field": "customers"}
            )
        if not 0 <= self.seed < 2**63:
            raise ValidationFailed("seed must be a non-negative 63-bit integer", {"field": "seed"})
        return self

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["end_date"] = self.end_date.isoformat()
        data["start_date"] = self.start_date.isoformat()
        return data


@dataclass(frozen=True)
class Shop:
    """The tenant facts the simulation depends on: its clock and its money."""

    timezone: str
    currency: str

    @property
    def money_scale(self) -> float:
        return MONEY_SCALE.get(self.currency, 1.0)

    def cents(self, yuan: float) -> int:
        """A CNY amount from the model's constants in this shop's minor units (1/100)."""
        return round(yuan * 100 * self.money_scale)


def component_rng(seed: int, component: str) -> np.random.Generator:
    """An independent PCG64 stream per component: changing how one table is drawn leaves the others as they
    were, and the streams never depend on call order."""
    key = zlib.crc32(component.encode())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))
