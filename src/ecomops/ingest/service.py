"""Turn a decoded request body into accepted lines, per-index rejections and dead-letter lines.

Kept free of HTTP so the API, the dead-letter replay and tests share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import msgspec
import orjson

from ecomops.ingest.messages import (
    MAX_EVENT_BYTES,
    Accepted,
    InvalidEvent,
    merge_batch_context,
    normalize,
)
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.kernel.ids import new_id
from ecomops.tenancy.service import SourceInfo
from ecomops.warehouse.connection import Warehouse


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


def _micros(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return msgspec.convert(value, datetime)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"{field} is not an RFC 3339 timestamp", {"field": field}) from exc


def process(payload: Any, kind: str, source: SourceInfo, received_at: datetime) -> Processed:
    """Validate every message of a body; a body-level problem raises ValidationFailed (nothing kept)."""
    if not isinstance(payload, dict):
        raise ValidationFailed("request body must be a JSON object", {"field": "$"})
    if kind == "batch":
        messages = payload.get("batch")
        if not isinstance(messages, list):
            raise ValidationFailed("batch must be an array of messages", {"field": "$.batch"})
        batch_context = payload.get("context")
        if batch_context is not None and not isinstance(batch_context, dict):
            raise ValidationFailed("batch context must be an object", {"field": "$.context"})
        sent_at = _parse_time(payload.get("sentAt"), "$.sentAt")
        expected = None
    else:
        messages, batch_context, sent_at, expected = [payload], None, None, kind
    out = Processed([], [])
    for index, message in enumerate(messages):
        raw = orjson.dumps(message)
        if len(raw) > MAX_EVENT_BYTES:
            out.rejected.append(
                Rejection(index, f"event is {len(raw)} bytes; the limit is 32 KB", "$", raw.decode())
            )
            continue
        merged = merge_batch_context(message, batch_context) if isinstance(message, dict) else message
        if expected and isinstance(merged, dict) and "type" not in merged:
            # Keep the endpoint's type with the message so a dead letter can be replayed on its own.
            merged = {**merged, "type": expected}
        try:
            out.accepted.append(
                normalize(
                    merged,
                    expected_type=expected,
                    received_at=received_at,
                    batch_sent_at=sent_at,
                    source_id=source.id,
                    source_channel=source.channel,
                )
            )
        except InvalidEvent as exc:
            out.rejected.append(Rejection(index, exc.reason, exc.field, orjson.dumps(merged).decode()))
    return out


def dead_letter_line(source_id: str | None, received_at: datetime, rejection: Rejection) -> bytes:
    reason = rejection.reason if rejection.field is None else f"{rejection.field}: {rejection.reason}"
    return (
        orjson.dumps(
            {
                "dead_letter_id": new_id("dl_"),
                "received_at": _micros(received_at),
                "source_id": source_id,
                "batch_index": rejection.index,
                "reason": reason,
                "payload": rejection.payload,
            }
        )
        + b"\n"
    )


# -- dead letters ------------------------------------------------------------------------------


def list_dead_letters(
    warehouse: Warehouse, limit: int = 100, offset: int = 0, include_replayed: bool = False
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
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]
    finally:
        cur.close()


def get_dead_letter(warehouse: Warehouse, dead_letter_id: str) -> dict[str, Any]:
    cur = warehouse.cursor()
    try:
        rel = cur.execute("SELECT * FROM ingest_dead_letters WHERE dead_letter_id = ?", [dead_letter_id])
        row = rel.fetchone()
        if row is None:
            raise NotFound(f"dead letter {dead_letter_id!r} not found", {"dead_letter_id": dead_letter_id})
        return dict(zip([d[0] for d in rel.description], row, strict=True))
    finally:
        cur.close()


def prepare_replay(
    letter: dict[str, Any], source: SourceInfo, corrected: dict[str, Any] | None, received_at: datetime
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
    if len(orjson.dumps(payload)) > MAX_EVENT_BYTES:
        raise ValidationFailed("event larger than 32 KB", {"field": "$"})
    try:
        return normalize(
            payload,
            expected_type=None,
            received_at=received_at,
            batch_sent_at=None,
            source_id=source.id,
            source_channel=source.channel,
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
