"""Dead letters as use cases: list them and replay one. The API handlers and the CLI (here or through
the running server) call these two functions, so both answer the same results and the same errors.

Both touch the tenant's warehouse. In the server the ingest pipeline owns the WAL: a listing first
loads what it holds (a refusal acknowledged a moment ago is listed), and a replayed event goes
through the pipeline like any other (WAL, dedupe window, group commit). Without a server nothing
appends to the WAL, so a replay stores the event and marks the letter in one warehouse transaction.

Every refusal to replay is ``ValidationFailed`` (422 ``validation_failed``): the request is well
formed, the letter cannot be replayed as it is (already replayed, no source, payload not JSON, still
invalid). Reading letters is audited (raw payloads may hold personal data), and so is a replay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.from_thread
from pydantic import BaseModel, ConfigDict

from ecomops.ingest import service
from ecomops.ingest.pii import dead_letter_opener, user_pseudonymizer, vault_sink, wal_sealer
from ecomops.ingest.writer import IngestWriter
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.web.state import AppState
from ecomops.privacy.service import mask_text
from ecomops.tenancy.service import get_source


class DeadLetter(BaseModel):
    """An event the ingest API refused, with the reason and the raw payload (opened if sealed)."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str
    received_at: datetime
    source_id: str | None
    batch_index: int | None
    reason: str
    payload: str
    replayed_at: datetime | None
    replay_message_id: str | None


class ReplayResult(BaseModel):
    """What a replay stored: ``accepted`` 1, or ``duplicates`` 1 when the messageId was stored before."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str
    message_id: str
    accepted: int
    duplicates: int


def _pipeline(state: AppState) -> IngestWriter | None:
    pipeline: IngestWriter | None = state.services.get("ingest")
    return pipeline


def list_dead_letters(
    state: AppState,
    tenant: TenantInfo,
    *,
    limit: int = 100,
    offset: int = 0,
    include_replayed: bool = False,
    reveal: bool = False,
) -> list[DeadLetter]:
    """Refused events, newest first; the read is audited (``ingest.dead_letter.read``).

    Payloads are raw events and may carry personal data: unless ``reveal`` (the API asks for
    ``customers:read_pii`` and a fresh second factor first), every personal value in them is replaced by
    ``[masked]`` (``privacy.fields.mask_text``), so the reason and the shape stay readable."""
    pipeline = _pipeline(state)
    if pipeline is not None:
        pipeline.flush()
    rows = service.list_dead_letters(
        state.warehouses.get(tenant.id),
        limit,
        offset,
        include_replayed,
        dead_letter_opener(state.engine, tenant.id),
    )
    if not reveal:
        for row in rows:
            row["payload"] = mask_text(row["payload"])
    details = {"count": len(rows), "offset": offset, "include_replayed": include_replayed, "reveal": reveal}
    record_action(state.engine, tenant.id, "ingest.dead_letter.read", "tenant", tenant.id, details=details)
    return [DeadLetter.model_validate(row) for row in rows]


def replay_dead_letter(
    state: AppState, tenant: TenantInfo, dead_letter_id: str, corrected: dict[str, Any] | None = None
) -> ReplayResult:
    """Validate a dead letter again (or ``corrected`` instead of its payload) and store it.

    In the server this runs in a worker thread of the event loop (``run_in_threadpool``) and hands the
    event to the pipeline on that loop.
    """
    warehouse = state.warehouses.get(tenant.id)
    letter = service.get_dead_letter(warehouse, dead_letter_id, dead_letter_opener(state.engine, tenant.id))
    if letter["source_id"] is None:
        raise ValidationFailed(
            "dead letter has no source, so it cannot be replayed", {"dead_letter_id": dead_letter_id}
        )
    source = get_source(state.engine, tenant.id, letter["source_id"])
    sealer = wal_sealer(state.engine, tenant.id)
    pseudonymize = user_pseudonymizer(state.engine, tenant.id)
    pipeline = _pipeline(state)
    if pipeline is None:
        sink = vault_sink(state.engine)(tenant.id)
        message_id, stored = service.replay_direct(
            warehouse, letter, source, corrected, tenant.currency, sealer, sink, pseudonymize
        )
        accepted, duplicates = (1, 0) if stored else (0, 1)
    else:
        event = service.prepare_replay(letter, source, corrected, datetime.now(UTC), sealer, pseudonymize)
        submitted = anyio.from_thread.run(pipeline.submit, tenant.id, [event], [])
        with warehouse.write() as cur:
            service.mark_replayed(cur, dead_letter_id, event.message_id)
        message_id, accepted, duplicates = event.message_id, submitted.accepted, submitted.duplicates
    record_action(
        state.engine,
        tenant.id,
        "ingest.dead_letter.replay",
        "dead_letter",
        dead_letter_id,
        details={"message_id": message_id, "corrected": corrected is not None},
    )
    return ReplayResult(
        dead_letter_id=dead_letter_id, message_id=message_id, accepted=accepted, duplicates=duplicates
    )
