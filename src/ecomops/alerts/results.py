"""Typed answers of the alerts use cases: what ``alerts.service`` returns, the API serialises (as its
response models), the CLI prints and the console page reads.

Thresholds and recorded values are Decimals written without trailing zeros or exponent ("30", "2.5",
"1200"), as the answers wrote them when they were dicts; an evaluation's value, baseline and change
are exact Decimal strings; times are aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, PlainSerializer


def plain_number(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent (30, 2.5, 1200)."""
    return format(value.normalize(), "f")


#: A Decimal written as :func:`plain_number` in JSON.
PlainDecimal = Annotated[Decimal, PlainSerializer(plain_number, return_type=str, when_used="json")]


@dataclass(frozen=True)
class Rule:
    """A rule as the API, CLI and console show it; its webhook secret is never in it."""

    id: str
    name: str
    kind: str
    metric: str | None
    breakdown: str | None
    breakdown_value: str | None
    window: str
    condition: str
    compare_to: str | None
    threshold: PlainDecimal
    volume_metric: str | None
    min_volume: int
    cooldown_minutes: int
    enabled: bool
    webhook_url: str | None
    has_webhook_secret: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None
    last_status: str | None
    last_fired_at: datetime | None
    #: The rule in one English line.
    description: str


@dataclass(frozen=True)
class RuleWithSecret(Rule):
    """A created or changed rule, with the signing secret when this change issued one (shown once)."""

    webhook_secret: Annotated[
        str | None,
        Field(description="HMAC-SHA256 signing secret, shown only in this answer (null without a webhook)"),
    ]


@dataclass(frozen=True)
class RuleEvent:
    """One firing of a rule or a test delivery, and the state of its webhook delivery."""

    id: str
    rule_id: str
    kind: Annotated[str, Field(description="firing or test")]
    fired_at: datetime
    period: str
    value: PlainDecimal | None
    baseline: PlainDecimal | None
    message: str
    status: Annotated[str, Field(description="no_webhook, pending, delivered or failed")]
    attempts: int
    delivered_at: datetime | None
    response_status: int | None
    last_error: str | None
    #: The JSON body the webhook was (or will be) sent.
    payload: dict[str, Any]


@dataclass(frozen=True)
class EvaluationResult:
    """What one rule found for one period (``status``: fired, ok, cooldown, already_fired, low_volume,
    unavailable, no_value, no_baseline, error, deleted, or test for a test delivery)."""

    rule_id: str
    status: str
    period: str
    value: Decimal | None
    baseline: Decimal | None
    change_pct: Decimal | None
    message: str
    event_id: str | None
    delivery: str | None
