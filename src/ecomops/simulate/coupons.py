"""Coupon rules applied at checkout, one coupon per order (the first rule that matches wins)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Coupon:
    code: str
    kind: str  # fixed | tiered (each full `threshold` takes `amount` off) | percent
    threshold: float  # yuan, on the order subtotal
    amount: float  # yuan off, or percent for kind=percent
    cap: float  # yuan, 0 = none
    rule: str
    usage_probability: float

    def describe(self) -> dict[str, Any]:
        return asdict(self)


NEW_CUSTOMER = Coupon("NEWUSER30", "fixed", 99, 30, 0, "first order of a new account", 0.55)
LIVE = Coupon("LIVE20", "fixed", 149, 20, 0, "orders placed during a Douyin live show", 0.5)
FESTIVAL = {
    "618": Coupon("618-MJ50", "tiered", 300, 50, 300, "618 window (June 1-18)", 0.75),
    "double11": Coupon("D11-MJ50", "tiered", 300, 50, 300, "Double 11 window (Oct 20 - Nov 11)", 0.75),
    "double12": Coupon("D12-MJ30", "tiered", 200, 30, 150, "Double 12 (Dec 10-12)", 0.6),
}
VIP = Coupon("VIP10", "percent", 0, 10, 50, "returning customers, occasional member perk", 0.06)
ALL_COUPONS = (NEW_CUSTOMER, LIVE, *FESTIVAL.values(), VIP)
