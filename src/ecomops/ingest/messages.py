"""Segment message validation at the edge, and its compact WAL line.

Each message is decoded straight from its bytes by msgspec into typed structs (C speed,
precise ``$.path`` locations); ``properties``/``context``/``traits`` stay raw JSON, checked
to be objects, and only what must be rejected up front (revenue, order events) is decoded.
The request path does the least Python work per event: extracting the promoted columns
(utm_*, page, device, location, click x/y, ids) happens in the loader, in DuckDB SQL, over
whole batches. Nested objects travel as JSON *strings* in the NDJSON line so Arrow never
infers per-batch struct types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import orjson

from ecomops.ingest.ecommerce import ORDER_EVENTS, parse_order_properties, validate_order_properties
from ecomops.ingest.livestream import LIVE_STREAM_EVENTS, validate_live_stream_properties
from ecomops.ingest.nesting import exceeds
from ecomops.kernel import jsonutil
from ecomops.kernel.clock import to_epoch_micros
from ecomops.privacy.service import (
    may_hold_pii,
    properties_may_hold_pii,
    split_properties,
    split_traits,
    strip_url_parameters,
    url_may_hold_pii,
    value_field,
)

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
#: Deepest nesting of objects/arrays in one event ({} is 1); deeper events are rejected before any
#: recursive decoder sees them (``ingest.nesting``).
MAX_EVENT_DEPTH = 32
MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_REVENUE_MAX = Decimal("99999999999999.9999")

Id = str | int
#: Encrypts an event's personal data for its WAL line: ``(message id, JSON bytes) -> ciphertext text``.
PiiSealer = Callable[[str, bytes], str]
#: An e-mail address sent as ``userId`` → the tenant's keyed pseudonym (``ingest.pii.user_pseudonymizer``).
Pseudonymizer = Callable[[str], str]


#: Events whose properties may carry the customer's contact details (Segment's e-commerce spec).
CHECKOUT_EVENTS = frozenset(
    (*ORDER_EVENTS, "Checkout Started", "Checkout Step Completed", "Payment Info Entered", "Order Updated")
)
#: Prefix of a sealed vault field that only fills an empty one (``ingest.pii.store_wal_pii``).
FILL_PREFIX = "fill:"

#: Default for absent nested objects (msgspec cannot put Raw in a union with None).
_ABSENT = msgspec.Raw(b"")


def _present(raw: msgspec.Raw | bytes | None) -> bytes | None:
    """The raw JSON of a nested object, or None when absent or null."""
    if raw is None:
        return None
    data = bytes(raw)
    return data if data and data.strip() != b"null" else None


class Message(msgspec.Struct, kw_only=True):
    """The Segment spec's fields; nested objects are kept raw and decoded only for promoted keys."""

    type: str | None = None
    messageId: Id | None = None
    anonymousId: Id | None = None
    userId: Id | None = None
    event: str | None = None
    name: str | None = None
    groupId: Id | None = None
    previousId: Id | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    context: msgspec.Raw = _ABSENT
    properties: msgspec.Raw = _ABSENT
    traits: msgspec.Raw = _ABSENT


class _Properties(msgspec.Struct):
    """The properties validated at the edge (the rest is extracted by the loader)."""

    revenue: Decimal | None = None


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


_message_decoder = msgspec.json.Decoder(Message)
_properties_decoder = msgspec.json.Decoder(_Properties)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _str_id(value: Id | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text else None


_JSON_KINDS = {ord("["): "array", ord('"'): "str", ord("t"): "bool", ord("f"): "bool"}


def _require_object(raw: bytes | None, path: str) -> None:
    """Nested objects stay raw; only check that they are objects (msgspec already checked the JSON)."""
    if raw is None:
        return
    first = raw.lstrip()[:1]
    if first != b"{":
        kind = _JSON_KINDS.get(first[0], "number") if first else "nothing"
        raise InvalidEvent(f"Expected `object`, got `{kind}`", path)


def _revenue(value: Decimal | None) -> str | None:
    """Revenue as an exact decimal string (msgspec decoded it from the JSON text, not via a float)."""
    if value is None:
        return None
    if not value.is_finite() or abs(value) > _REVENUE_MAX:
        raise InvalidEvent("revenue out of range for DECIMAL(18,4)", "$.properties.revenue")
    return str(value.quantize(Decimal("0.0001")))


def _split(exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str) -> InvalidEvent:
    reason, _, loc = str(exc).partition(" - at `")
    loc = loc.rstrip("`")
    return InvalidEvent(reason, prefix + loc[1:] if loc.startswith("$") else prefix or None)


def _decode_nested(raw: bytes | None, decoder: msgspec.json.Decoder[Any], name: str) -> Any:
    if raw is None:
        return None
    try:
        return decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _split(exc, f"$.{name}") from exc


def merge_context(own: bytes | None, batch_context: dict[str, Any] | None) -> bytes | None:
    """Batch-level ``context`` applies to each message; the message's own keys win."""
    if not batch_context:
        return own
    mine = orjson.loads(own) if own is not None else {}
    if not isinstance(mine, dict):
        raise InvalidEvent("Expected `object`, got a non-object context", "$.context")
    return jsonutil.dumps({**batch_context, **mine})


def _json_column(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"invalid UTF-8 at byte {exc.start}", "$") from exc
    return None if text.strip() == "{}" else text


def _extract_pii(
    traits_json: bytes | None,
    context_json: bytes | None,
    properties_json: bytes | None,
    checkout: bool,
) -> tuple[bytes | None, bytes | None, bytes | None, dict[str, str]]:
    """Move personal data out of ``traits``, ``context.traits`` (Segment puts identify traits in both)
    and ``properties`` (an order's e-mail or shipping address); returns the remaining JSON of each and
    the vault fields (``traits`` wins on conflicts, then ``context.traits``, then ``properties``).

    The substring pre-checks keep events without PII-looking keys or values off the decode path.
    """
    from_properties: dict[str, str] = {}
    from_context: dict[str, str] = {}
    from_traits: dict[str, str] = {}
    # Every event's properties are checked for an e-mail address (one byte scan); the key spellings
    # (phone, shipping_address…) only on checkout and order events, where a customer's contact details
    # belong: nine substring scans per event would cost every product view ~1.5 µs.
    if (
        properties_json is not None
        and (b"@" in properties_json or (checkout and properties_may_hold_pii(properties_json)))
        and properties_json.lstrip()[:1] == b"{"
    ):
        kept_properties, from_properties = split_properties(orjson.loads(properties_json))
        if from_properties:
            properties_json = jsonutil.dumps(kept_properties)
    if traits_json is not None and may_hold_pii(traits_json):
        kept, from_traits = split_traits(orjson.loads(traits_json))
        traits_json = jsonutil.dumps(kept)
    if context_json is not None and b'"traits"' in context_json and may_hold_pii(context_json):
        context = orjson.loads(context_json)
        nested = context.get("traits")
        if isinstance(nested, dict):
            kept, from_context = split_traits(nested)
            if from_context:
                context_json = jsonutil.dumps({**context, "traits": kept})
    # An order's contact details fill the customer's vault fields only where nothing is known yet: they
    # are the order's, and must not overwrite what the customer said about themselves.
    fills = {FILL_PREFIX + field: value for field, value in from_properties.items()}
    return traits_json, context_json, properties_json, {**fills, **from_context, **from_traits}


def _pseudonymized(identifier: str | None, pseudonymize: Pseudonymizer | None, what: str) -> str | None:
    """An id that is an e-mail address → its keyed pseudonym; any other id as it is."""
    if identifier is None or "@" not in identifier or value_field(identifier) != "email":
        return identifier
    if pseudonymize is None:
        raise RuntimeError(f"an e-mail {what} reached normalize() without a pseudonymizer")
    return pseudonymize(identifier)


def normalize(
    raw: bytes,
    *,
    expected_type: str | None,
    received_at: datetime,
    batch_sent_at: datetime | None,
    batch_context: dict[str, Any] | None,
    source_id: str,
    source_channel: str,
    seal_pii: PiiSealer | None = None,
    pseudonymize: Pseudonymizer | None = None,
) -> Accepted:
    """Validate one message (its JSON bytes) and turn it into an NDJSON ``events`` line.

    Personal data (``privacy.fields``: traits and ``context.traits`` by normalised key or by value,
    an order's e-mail or address in ``properties``, an e-mail address sent as ``userId``) leaves the
    line and travels only as ``pii``, encrypted by ``seal_pii`` with the tenant's data key; the
    ``userId`` becomes its keyed pseudonym (``pseudonymize``), and personal query parameters of URLs
    are blanked. Without a sealer (or pseudonymizer) such an event is refused rather than written in
    clear text.
    """
    if not raw.lstrip().startswith(b"{"):
        raise InvalidEvent("each event must be a JSON object", "$")
    if exceeds(raw, MAX_EVENT_DEPTH):
        raise InvalidEvent(f"event nested deeper than {MAX_EVENT_DEPTH} levels", "$")
    try:  # msgspec skips the bytes of nested objects without checking their encoding
        raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"invalid UTF-8 at byte {exc.start}", "$") from exc
    if url_may_hold_pii(raw):  # ?email=… in a page URL or referrer
        raw = strip_url_parameters(raw)
    try:
        msg = _message_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _split(exc, "$") from exc
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
    try:
        if event_time is None:
            ts = received_at
        elif sent_at is not None:
            ts = received_at - (_as_utc(sent_at) - _as_utc(event_time))
        else:
            ts = _as_utc(event_time)
    except OverflowError as exc:  # e.g. sentAt in year 6045: the corrected time leaves the calendar
        raise InvalidEvent(
            "timestamp and sentAt are too far apart to correct the clock skew", "$.sentAt"
        ) from exc
    ts = min(ts, received_at)

    properties_json, traits_json = _present(msg.properties), _present(msg.traits)
    context_json = merge_context(_present(msg.context), batch_context)
    _require_object(context_json, "$.context")
    _require_object(traits_json, "$.traits")
    # Group traits describe the group (a company), not the person: only identify traits are the user's.
    person_traits, context_json, properties_json, pii = _extract_pii(
        traits_json if msg_type == "identify" else None,
        context_json,
        properties_json,
        msg_type == "track" and msg.event in CHECKOUT_EVENTS,
    )
    if msg_type == "identify":
        traits_json = person_traits
    previous_id = _pseudonymized(_str_id(msg.previousId), pseudonymize, "previousId")
    pseudonymous_user = _pseudonymized(user_id, pseudonymize, "userId")
    if pseudonymous_user != user_id and user_id is not None:
        pii = {"email": user_id.strip(), **pii}
        user_id = pseudonymous_user
    sealed_pii = None
    if pii:
        if seal_pii is None:
            raise RuntimeError("an event with personal data reached normalize() without a PII sealer")
        sealed_pii = seal_pii(message_id, jsonutil.dumps(pii))
    revenue = None
    if properties_json is not None:
        props: _Properties = _decode_nested(properties_json, _properties_decoder, "properties")
        revenue = _revenue(props.revenue)
    if msg_type == "track" and msg.event in ORDER_EVENTS:
        problem = validate_order_properties(msg.event, properties_json or b"{}")
        if problem is not None:
            reason, _, loc = problem.rpartition("|")
            raise InvalidEvent(reason, loc)
        if revenue is None and msg.event != "Order Cancelled":  # an order's revenue is its total
            revenue = _revenue(parse_order_properties(properties_json or b"{}").total)
    if msg_type == "track" and msg.event in LIVE_STREAM_EVENTS:
        problem = validate_live_stream_properties(msg.event, properties_json or b"{}")
        if problem is not None:
            reason, _, loc = problem.rpartition("|")
            raise InvalidEvent(reason, loc)

    event_name = msg.event if msg_type == "track" else (msg.name if msg_type in ("page", "screen") else None)
    properties = _json_column(properties_json)
    if msg_type == "group":
        extra = orjson.loads(properties_json) if properties_json is not None else {}
        properties = jsonutil.dumps({"groupId": _str_id(msg.groupId), **extra}).decode()
    elif msg_type == "alias":
        properties = jsonutil.dumps({"previousId": previous_id}).decode()
    # Promoted columns (utm_*, page, device, location, x/y, ids) are extracted by the loader in SQL.
    row = {
        "message_id": message_id,
        "type": msg_type,
        "event": event_name,
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "ts": to_epoch_micros(ts),
        "received_at": to_epoch_micros(received_at),
        "sent_at": to_epoch_micros(_as_utc(sent_at)) if sent_at else None,
        "source_id": source_id,
        "channel": source_channel,
        "revenue": revenue,
        "properties": properties,
        "context": _json_column(context_json),
        "traits": _json_column(traits_json),
        "pii": sealed_pii,
    }
    return Accepted(message_id, jsonutil.dumps(row) + b"\n", event_name)
