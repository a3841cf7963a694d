"""Segment message validation and normalisation into one warehouse row per event.

Validation uses msgspec (C speed, precise ``$.path`` locations). A normalised event is
serialised once, here, as one NDJSON line whose keys are the ``events`` columns, so the
WAL writer only concatenates bytes and the loader parses lines in C++ (pyarrow.json).
Nested objects travel as JSON *strings* so Arrow never infers per-batch struct types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import orjson

from ecomops.ingest.ecommerce import ORDER_EVENTS, validate_order_properties
from ecomops.tenancy.service import CHANNELS

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_SALES_CHANNELS = frozenset(CHANNELS)
_REVENUE_MAX = Decimal("99999999999999.9999")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Id = str | int


class Message(msgspec.Struct, kw_only=True):
    """The Segment spec's common fields plus the per-type ones; unknown keys are kept in ``raw``."""

    type: str | None = None
    messageId: Id | None = None
    anonymousId: Id | None = None
    userId: Id | None = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    groupId: Id | None = None
    previousId: Id | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    channel: str | None = None
    context: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


class InvalidEvent(Exception):
    """One event that cannot be stored; ``field`` is a JSON path inside that event."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str
    line: bytes
    event: str | None


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _str_id(value: Id | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text else None


def _dig(obj: dict[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _revenue(props: dict[str, Any], event: str | None) -> str | None:
    """Revenue as a decimal string (exact); Segment puts it in ``revenue``, e-commerce orders in ``total``."""
    value = props.get("revenue")
    if value is None and event in ("Order Completed", "Order Refunded"):
        value = props.get("total")
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidEvent("revenue must be a number", "$.properties.revenue")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidEvent(f"revenue is not a number: {value!r}", "$.properties.revenue") from exc
    if not amount.is_finite() or abs(amount) > _REVENUE_MAX:
        raise InvalidEvent("revenue out of range for DECIMAL(18,4)", "$.properties.revenue")
    return str(amount.quantize(Decimal("0.0001")))


def merge_batch_context(message: dict[str, Any], batch_context: dict[str, Any] | None) -> dict[str, Any]:
    """Batch-level ``context`` applies to each message; the message's own keys win."""
    if not batch_context:
        return message
    own = message.get("context")
    if own is not None and not isinstance(own, dict):
        return message  # leave it for validation to report
    merged = {**batch_context, **(own or {})}
    return {**message, "context": merged}


def normalize(
    raw: Any,
    *,
    expected_type: str | None,
    received_at: datetime,
    batch_sent_at: datetime | None,
    source_id: str,
    source_channel: str,
) -> Accepted:
    """Validate one message and turn it into an NDJSON ``events`` line, or raise InvalidEvent."""
    if not isinstance(raw, dict):
        raise InvalidEvent("each event must be a JSON object", "$")
    try:
        msg = msgspec.convert(raw, Message)
    except msgspec.ValidationError as exc:
        text = str(exc)
        reason, _, loc = text.partition(" - at `")
        raise InvalidEvent(reason, loc.rstrip("`") or None) from exc
    msg_type = expected_type or msg.type
    if msg_type is None:
        raise InvalidEvent(
            "type is required in a batch (track, identify, page, screen, group, alias)", "$.type"
        )
    if expected_type and msg.type and msg.type != expected_type:
        raise InvalidEvent(f"type {msg.type!r} sent to the /v1/{expected_type} endpoint", "$.type")
    if msg_type not in MESSAGE_TYPES:
        raise InvalidEvent(f"unknown type {msg_type!r}; expected one of {', '.join(MESSAGE_TYPES)}", "$.type")
    user_id, anonymous_id = _str_id(msg.userId), _str_id(msg.anonymousId)
    if user_id is None and anonymous_id is None:
        raise InvalidEvent("userId or anonymousId is required", "$.userId")
    if msg_type == "track" and not (msg.event and msg.event.strip()):
        raise InvalidEvent("track events need a non-empty event name", "$.event")
    if msg_type == "group" and _str_id(msg.groupId) is None:
        raise InvalidEvent("group calls need groupId", "$.groupId")
    if msg_type == "alias" and _str_id(msg.previousId) is None:
        raise InvalidEvent("alias calls need previousId", "$.previousId")
    message_id = _str_id(msg.messageId)
    if message_id is None:
        raise InvalidEvent("messageId is required (it makes retries idempotent)", "$.messageId")
    if len(message_id) > 200:
        raise InvalidEvent("messageId longer than 200 characters", "$.messageId")

    # Clock-skew correction (Segment's rule): the device clock may be wrong, but the gap between
    # the event and sending it is right, so ts = receivedAt - (sentAt - timestamp).
    event_time = msg.timestamp or msg.originalTimestamp
    sent_at = msg.sentAt or batch_sent_at
    if event_time is None:
        ts = received_at
    elif sent_at is not None:
        ts = received_at - (_as_utc(sent_at) - _as_utc(event_time))
    else:
        ts = _as_utc(event_time)
    ts = min(ts, received_at)

    props = msg.properties or {}
    ctx = msg.context or {}
    if msg_type == "track" and msg.event in ORDER_EVENTS:
        problem = validate_order_properties(msg.event, props)
        if problem is not None:
            reason, _, loc = problem.partition("|")
            raise InvalidEvent(reason, loc)
    event_name = msg.event if msg_type == "track" else (msg.name if msg_type in ("page", "screen") else None)
    channel = props.get("channel")
    if not (isinstance(channel, str) and channel in _SALES_CHANNELS):
        channel = source_channel
    page: dict[str, Any] = ctx["page"] if isinstance(ctx.get("page"), dict) else {}
    campaign: dict[str, Any] = ctx["campaign"] if isinstance(ctx.get("campaign"), dict) else {}
    row = {
        "message_id": message_id,
        "type": msg_type,
        "event": event_name,
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "ts": _micros(ts),
        "received_at": _micros(received_at),
        "sent_at": _micros(_as_utc(sent_at)) if sent_at else None,
        "source_id": source_id,
        "channel": channel,
        "session_id": _text(ctx.get("sessionId") or props.get("session_id")),
        "utm_source": _text(campaign.get("source")),
        "utm_medium": _text(campaign.get("medium")),
        "utm_campaign": _text(campaign.get("name")),
        "utm_term": _text(campaign.get("term")),
        "utm_content": _text(campaign.get("content")),
        "page_url": _text(props.get("url") if msg_type == "page" else None) or _text(page.get("url")),
        "page_path": _text(props.get("path") if msg_type == "page" else None) or _text(page.get("path")),
        "referrer": _text(props.get("referrer") if msg_type == "page" else None)
        or _text(page.get("referrer")),
        "device": _text(_dig(ctx, "device", "type")),
        "os": _text(_dig(ctx, "os", "name")),
        "country": _text(_dig(ctx, "location", "country")),
        "region": _text(_dig(ctx, "location", "region")),
        "city": _text(_dig(ctx, "location", "city")),
        "x": _number(props.get("x")),
        "y": _number(props.get("y")),
        "product_id": _text(props.get("product_id")),
        "order_id": _text(props.get("order_id")),
        "revenue": _revenue(props, msg.event),
        "currency": _text(props.get("currency")),
        "properties": orjson.dumps(props).decode() if props else None,
        "context": orjson.dumps(ctx).decode() if ctx else None,
        "traits": orjson.dumps(msg.traits).decode() if msg.traits else None,
    }
    if msg_type == "group":
        row["properties"] = orjson.dumps({"groupId": _str_id(msg.groupId), **props}).decode()
    elif msg_type == "alias":
        row["properties"] = orjson.dumps({"previousId": _str_id(msg.previousId)}).decode()
    return Accepted(message_id, orjson.dumps(row) + b"\n", event_name)
