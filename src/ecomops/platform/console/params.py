"""Query-string parsing for console pages: a bad filter becomes a 422 page naming the field.

Pages read filters from plain GET forms (shareable URLs, no JavaScript needed); these helpers apply
the same bounds the services do, so the page can answer with a precise message instead of a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from fastapi import Request

from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.shell import Page

T = TypeVar("T")
#: Longest free-text filter value a page accepts.
MAX_TEXT = 200


class BadFilter(EcomopsError):
    status_code = 422
    code = "validation_failed"


def on_cursor(page: Page, fn: Callable[[Any], T]) -> T:
    cur = page.state.warehouses.get(page.tenant.id).cursor()
    try:
        return fn(cur)
    finally:
        cur.close()


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise BadFilter(f"{name} is longer than {MAX_TEXT} characters", {"field": name})
    return value or None


def query_day(request: Request, name: str) -> date | None:
    value = query_text(request, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not a date (YYYY-MM-DD)", {"field": name}) from None


def query_amount(request: Request, name: str) -> Decimal | None:
    value = query_text(request, name)
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadFilter(f"{name}: {value!r} is not a number", {"field": name}) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e14"):
        raise BadFilter(f"{name}: {value!r} must be a non-negative amount", {"field": name})
    return amount


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = query_text(request, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not a whole number", {"field": name}) from None
    if not low <= number <= high:
        raise BadFilter(f"{name} must be {low}..{high}", {"field": name})
    return number
