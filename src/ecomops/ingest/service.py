"""Turn a decoded request body into accepted lines, per-index rejections and dead-letter lines.

Kept free of HTTP so the API, the dead-letter replay and tests share one code path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import msgspec
import orjson
import redis

from ecomops.ingest.cluster import open_log
from ecomops.ingest.eventlog import LogBacklog
from ecomops.ingest.loader import EVENT_SCHEMA, load_events, parse_lines, store_pii
from ecomops.ingest.messages import (
    MAX_EVENT_BYTES,
    MAX_EVENT_DEPTH,
    Accepted,
    InvalidEvent,
    PiiSealer,
    Pseudonymizer,
    normalize,
)
from ecomops.ingest.nesting import Unsplittable, exceeds, split_batch
from ecomops.ingest.redis_log import LogNotDurable
from ecomops.ingest.sealed import PiiSink
from ecomops.kernel import jsonutil
from ecomops.kernel.clock import to_epoch_micros
from ecomops.kernel.errors import BadRequest, NotFound, ValidationFailed
from ecomops.kernel.ids import new_id
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.tenancy.service import SourceInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    index: int | None
    reason: str
    field: str | None
    payload: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class Processed:
    accepted: list[Accepted]
    rejected: list[Rejection]
    #: More invalid events than the request may carry: validation stopped there (the request is junk).
    gave_up: bool = False


class _BatchBody(msgspec.Struct):
    batch: list[msgspec.Raw]
    sentAt: datetime | None = None
    context: dict[str, Any] | None = None
    writeKey: str | None = None


class _SingleBody(msgspec.Struct):
    writeKey: Any = None


_batch_decoder = msgspec.json.Decoder(_BatchBody)
_single_decoder = msgspec.json.Decoder(_SingleBody)


@dataclass
class Envelope:
    """A request body split into its messages' raw bytes and the batch-level fields.

    Messages stay ``msgspec.Raw`` (views into the body) until ``process`` reaches them: copying each to
    ``bytes`` up front doubled the cost of a 240,000-item junk batch (20 → 40 ms of event loop) that
    validation abandons after 21 items."""

    messages: Sequence[bytes | msgspec.Raw]
    sent_at: datetime | None
    context: dict[str, Any] | None
    write_key: str | None


def decode_body(body: bytes, kind: str) -> Envelope:
    """Split a body into messages; a body-level problem raises BadRequest (400) and nothing is kept."""
    try:
        if kind != "batch":
            single = _single_decoder.decode(body)
            key = single.writeKey if isinstance(single.writeKey, str) else None
            return Envelope([body], None, None, key)
        batch = _batch_decoder.decode(body)
    except RecursionError:
        return _decode_deep_batch(body, kind)
    except msgspec.ValidationError as exc:
        reason, _, loc = str(exc).partition(" - at `")
        loc = loc.rstrip("`") or "$"
        message = {
            "$": "request body must be a JSON object",
            "$.batch": "batch must be an array of messages",
            "$.sentAt": "sentAt is not an RFC 3339 timestamp",
            "$.context": "batch context must be an object",
        }.get(loc.split("[")[0], reason)
        if reason.startswith("Object missing required field `batch`"):
            message, loc = "batch must be an array of messages", "$.batch"
        raise BadRequest(message, {"field": loc}, code="invalid_body") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}", {"field": "$"}, code="malformed_json") from exc
    return Envelope(batch.batch, batch.sentAt, batch.context, batch.writeKey)


def _decode_deep_batch(body: bytes, kind: str) -> Envelope:
    """A body too deeply nested for the decoder: split it without recursion, so a deep message is
    rejected on its own (``normalize`` checks the depth) and the rest are stored; a single-event
    body or a deep envelope (``context``) is refused as a whole."""
    too_deep = BadRequest(
        f"request body nested deeper than {MAX_EVENT_DEPTH} levels", {"field": "$"}, code="malformed_json"
    )
    if kind != "batch":
        raise too_deep
    try:
        messages, rest = split_batch(body)
        envelope = decode_body(rest, kind)
    except (Unsplittable, RecursionError) as exc:
        raise too_deep from exc
    return Envelope(messages, envelope.sent_at, envelope.context, envelope.write_key)


def _dead_payload(raw: bytes, context: dict[str, Any] | None, expected: str | None) -> str:
    """What a dead letter keeps: the message with the batch context and endpoint type folded in,
    so it can be replayed on its own."""
    if exceeds(raw, MAX_EVENT_DEPTH):
        return raw.decode("utf-8", "replace")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")
    if isinstance(message, dict):
        if context and (message.get("context") is None or isinstance(message.get("context"), dict)):
            message = {**message, "context": {**context, **(message.get("context") or {})}}
        if expected and "type" not in message:
            message = {**message, "type": expected}
    return jsonutil.dumps(message).decode()


def process(
    envelope: Envelope,
    kind: str,
    source: SourceInfo,
    received_at: datetime,
    seal_pii: PiiSealer,
    max_invalid: int | None = None,
    pseudonymize: Pseudonymizer | None = None,
) -> Processed:
    """Validate every message; invalid ones become rejections (by index) instead of failing the rest.

    ``seal_pii`` encrypts personal data found in traits (``privacy.ingest.wal_sealer``). Past
    ``max_invalid`` rejections validation stops (``gave_up``): a body of mostly junk costs a bounded
    amount of work, however many items it holds.
    """
    expected = None if kind == "batch" else kind
    out = Processed([], [])
    for index, message in enumerate(envelope.messages):
        if max_invalid is not None and len(out.rejected) > max_invalid:
            out.gave_up = True
            break
        raw = bytes(message)
        if len(raw) > MAX_EVENT_BYTES:
            out.rejected.append(
                Rejection(
                    index,
                    f"event is {len(raw)} bytes; the limit is 32 KB",
                    "$",
                    raw.decode("utf-8", "replace"),
                )
            )
            continue
        try:
            out.accepted.append(
                normalize(
                    raw,
                    expected_type=expected,
                    received_at=received_at,
                    batch_sent_at=envelope.sent_at,
                    batch_context=envelope.context,
                    source_id=source.id,
                    source_channel=source.channel,
                    seal_pii=seal_pii,
                    pseudonymize=pseudonymize,
                )
            )
        except InvalidEvent as exc:
            out.rejected.append(
                Rejection(index, exc.reason, exc.field, _dead_payload(raw, envelope.context, expected))
            )
        except Exception:  # a bug of ours must cost this event only, never its batch or a 500
            log.exception("event %d of a batch could not be processed", index)
            out.rejected.append(
                Rejection(
                    index, "the server could not process this event", "$", raw.decode("utf-8", "replace")
                )
            )
    return out


def request_rejection(body: bytes, reason: str) -> Rejection:
    """The one dead letter kept for a refused request: its reason and the body's first 32 KB (enough to
    see what was sent; a junk body must not cost 500 KB of dead letters per request)."""
    sample = body[:MAX_EVENT_BYTES].decode("utf-8", "replace")
    if len(body) > MAX_EVENT_BYTES:
        reason = f"{reason} (payload: the first 32 KB of {len(body)} bytes)"
    return Rejection(None, reason, "$", sample)


#: ``(dead letter id, payload) -> stored payload``: seals payloads that may carry PII
#: (``privacy.ingest.dead_letter_sealer``), and the reverse for reading them.
PayloadCodec = Callable[[str, str], str]


def dead_letter_line(
    source_id: str | None,
    received_at: datetime,
    rejection: Rejection,
    seal_payload: PayloadCodec | None = None,
) -> bytes:
    """The WAL line of a refused event; a payload that may hold PII is stored sealed (``seal_payload``)."""
    reason = rejection.reason if rejection.field is None else f"{rejection.field}: {rejection.reason}"
    dead_letter_id = new_id("dl_")
    payload = (
        seal_payload(dead_letter_id, rejection.payload) if seal_payload is not None else rejection.payload
    )
    return (
        jsonutil.dumps(
            {
                "dead_letter_id": dead_letter_id,
                "received_at": to_epoch_micros(received_at),
                "source_id": source_id,
                "batch_index": rejection.index,
                "reason": reason,
                "payload": payload,
            }
        )
        + b"\n"
    )


def _opened(letter: dict[str, Any], open_payload: PayloadCodec | None) -> dict[str, Any]:
    if open_payload is not None and isinstance(letter.get("payload"), str):
        letter["payload"] = open_payload(letter["dead_letter_id"], letter["payload"])
    return letter


# -- dead letters ------------------------------------------------------------------------------


def list_dead_letters(
    warehouse: Warehouse,
    limit: int = 100,
    offset: int = 0,
    include_replayed: bool = False,
    open_payload: PayloadCodec | None = None,
) -> list[dict[str, Any]]:
    cur = warehouse.cursor()
    try:
        rel = cur.execute(
            """SELECT dead_letter_id, received_at, source_id, batch_index, reason, payload, replayed_at,
                      replay_message_id
               FROM ingest_dead_letters WHERE ? OR replayed_at IS NULL
               ORDER BY received_at DESC, dead_letter_id LIMIT ? OFFSET ?""",
            [include_replayed, limit, offset],
        )
        cols = [d[0] for d in rel.description]
        return [_opened(dict(zip(cols, row, strict=True)), open_payload) for row in rel.fetchall()]
    finally:
        cur.close()


def get_dead_letter(
    warehouse: Warehouse, dead_letter_id: str, open_payload: PayloadCodec | None = None
) -> dict[str, Any]:
    cur = warehouse.cursor()
    try:
        rel = cur.execute("SELECT * FROM ingest_dead_letters WHERE dead_letter_id = ?", [dead_letter_id])
        row = rel.fetchone()
        if row is None:
            raise NotFound(f"dead letter {dead_letter_id!r} not found", {"dead_letter_id": dead_letter_id})
        return _opened(dict(zip([d[0] for d in rel.description], row, strict=True)), open_payload)
    finally:
        cur.close()


def prepare_replay(
    letter: dict[str, Any],
    source: SourceInfo,
    corrected: dict[str, Any] | None,
    received_at: datetime,
    seal_pii: PiiSealer,
    pseudonymize: Pseudonymizer | None = None,
) -> Accepted:
    """Validate the stored (or corrected) payload again; still invalid → ValidationFailed with the reason."""
    if letter["replayed_at"] is not None:
        raise ValidationFailed(
            "dead letter was already replayed", {"dead_letter_id": letter["dead_letter_id"]}
        )
    if corrected is not None:
        payload: Any = corrected
    else:
        try:
            payload = orjson.loads(letter["payload"])
        except orjson.JSONDecodeError as exc:
            raise ValidationFailed(
                "stored payload is not JSON; send a corrected payload",
                {"dead_letter_id": letter["dead_letter_id"]},
            ) from exc
    raw = jsonutil.dumps(payload)
    if len(raw) > MAX_EVENT_BYTES:
        raise ValidationFailed("event larger than 32 KB", {"field": "$"})
    try:
        return normalize(
            raw,
            expected_type=None,
            received_at=received_at,
            batch_sent_at=None,
            batch_context=None,
            source_id=source.id,
            source_channel=source.channel,
            seal_pii=seal_pii,
            pseudonymize=pseudonymize,
        )
    except InvalidEvent as exc:
        raise ValidationFailed(f"still invalid: {exc.reason}", {"field": exc.field}) from exc


def mark_replayed(
    cur: duckdb.DuckDBPyConnection, dead_letter_id: str, message_id: str, at: datetime | None = None
) -> None:
    cur.execute(
        "UPDATE ingest_dead_letters SET replayed_at = ?, replay_message_id = ? WHERE dead_letter_id = ?",
        [at or datetime.now(UTC), message_id, dead_letter_id],
    )


def replay_direct(
    warehouse: Warehouse,
    letter: dict[str, Any],
    source: SourceInfo,
    corrected: dict[str, Any] | None,
    default_currency: str,
    seal_pii: PiiSealer,
    pii_sink: PiiSink,
    pseudonymize: Pseudonymizer | None = None,
) -> tuple[str, bool]:
    """Replay without a server (this process owns the file): one transaction stores the event and
    marks the letter. Returns (message_id, stored) — stored is False for an already stored messageId.
    The event's PII goes to the vault (``pii_sink``) before that transaction commits."""
    accepted = prepare_replay(letter, source, corrected, datetime.now(UTC), seal_pii, pseudonymize)
    events = parse_lines(accepted.line, EVENT_SCHEMA)
    with warehouse.write() as cur:
        exists = cur.execute(
            "SELECT 1 FROM events WHERE message_id = ? LIMIT 1", [accepted.message_id]
        ).fetchone()
        if exists is None:
            store_pii(events, pii_sink)
            load_events(cur, events, default_currency)
        mark_replayed(cur, letter["dead_letter_id"], accepted.message_id)
    return accepted.message_id, exists is None


class LogUnusable(Exception):
    """Cluster mode's event log cannot take acknowledged events (unreachable, or not durable)."""


def log_backlog(settings: Settings) -> list[LogBacklog]:
    """Cluster mode: each tenant's shared-log backlog (``doctor`` reads it without a server). Raises
    ``LogUnusable`` when the log is unreachable or would acknowledge writes it has not fsynced."""
    try:
        event_log = open_log(settings)
    except (LogNotDurable, redis.RedisError) as exc:
        raise LogUnusable(str(exc)) from exc
    try:
        return [event_log.backlog(tenant_id) for tenant_id in event_log.tenants()]
    finally:
        event_log.close()
