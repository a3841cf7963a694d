"""Money is a Decimal with an ISO 4217 currency; floats never carry money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from ecomops.kernel.errors import ValidationFailed

#: DECIMAL(18,4) in both stores.
MONEY_QUANT = Decimal("0.0001")
MONEY_MAX = Decimal("99999999999999.9999")


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Parse a money amount without going through binary floating point."""
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a number, got a boolean", {"field": field})
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{field} is not a number: {value!r}", {"field": field}) from exc
    if not amount.is_finite():
        raise ValidationFailed(f"{field} must be finite", {"field": field})
    amount = amount.quantize(MONEY_QUANT, rounding=ROUND_HALF_EVEN)
    if abs(amount) > MONEY_MAX:
        raise ValidationFailed(f"{field} out of range for DECIMAL(18,4): {value!r}", {"field": field})
    return amount


def normalize_currency(code: object, field: str = "currency") -> str:
    if not isinstance(code, str) or len(code.strip()) != 3 or not code.strip().isalpha():
        raise ValidationFailed(f"{field} must be a 3-letter ISO 4217 code, got {code!r}", {"field": field})
    return code.strip().upper()


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: object, currency: object) -> Money:
        return cls(to_decimal(amount), normalize_currency(currency))
