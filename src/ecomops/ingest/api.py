"""Segment-compatible HTTP API (``/v1/track|identify|page|screen|group|alias|batch``) and dead letters.

Default (lenient) mode answers 200 with the invalid events listed by index, because Segment
SDKs drop a whole batch answered 4xx; ``?strict=true`` rejects the whole batch with 400.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.ingest import deadletters, service
from ecomops.ingest.auth import WriteKeyCache, write_key_from_headers
from ecomops.ingest.content_encoding import parse_content_encoding, read_body
from ecomops.ingest.deadletters import DeadLetter, ReplayResult
from ecomops.ingest.messages import MAX_BATCH_BYTES, MAX_EVENT_BYTES, MESSAGE_TYPES, Accepted, PiiSealer
from ecomops.ingest.pii import dead_letter_sealer, user_pseudonymizer, wal_sealer
from ecomops.ingest.shedding import LoadShedder
from ecomops.ingest.writer import IngestWriter
from ecomops.kernel.errors import BadRequest, EcomopsError, RequestTimeout, Unauthorized
from ecomops.platform.crypto.keyring import keyring
from ecomops.platform.observability.logs import set_tenant
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.ratelimit import Charge, RateLimiter, denied
from ecomops.platform.web.state import AppState
from ecomops.platform.web.stepup import require_step_up
from ecomops.privacy.service import may_hold_pii
from ecomops.tenancy.service import SourceInfo

router = APIRouter()
#: Dead letters hold raw payloads (possibly personal data): not for viewers or marketers.

_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Segment message (https://segment.com/docs/connections/spec/). userId or anonymousId "
    "is required; track needs event; messageId makes retries idempotent.",
    "properties": {
        "type": {"type": "string", "enum": list(MESSAGE_TYPES)},
        "messageId": {"type": "string"},
        "userId": {"type": "string"},
        "anonymousId": {"type": "string"},
        "event": {"type": "string"},
        "name": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
        "context": {"type": "object"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
    },
}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": _MESSAGE_SCHEMA},
        "sentAt": {"type": "string"},
        "context": {"type": "object"},
        "writeKey": {"type": "string"},
    },
}
_DESCRIPTION = (
    "The body may be compressed: `Content-Encoding: gzip` (or `x-gzip`) or `deflate` (zlib-wrapped or raw). "
    "The size limit applies to the decompressed body, and the compressed body is capped at the same size."
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Stored durably; invalid events listed by index and kept as dead letters",
        "content": {
            "application/json": {
                "example": {
                    "success": True,
                    "accepted": 99,
                    "duplicates": 0,
                    "rejected": [
                        {"index": 3, "field": "$.event", "reason": "track events need a non-empty event name"}
                    ],
                }
            }
        },
    },
    400: {
        "description": "Malformed JSON, a misshapen body, more invalid events than a request may carry "
        "(too_many_invalid_events), (strict mode) any invalid event, or a compressed body that does not "
        "decompress; nothing stored"
    },
    401: {"description": "Missing or unknown write key"},
    413: {
        "description": "Body over 500 KB (batch) or 32 KB (single event) after decompression, or a "
        "compressed body over the same size; nothing stored"
    },
    415: {
        "description": "Content-Encoding other than gzip, x-gzip, deflate or identity (or several stacked); "
        "nothing stored"
    },
    422: {"description": "Invalid query parameter"},
    429: {
        "description": "The server is shedding load (too many request bodies in flight, memory above its "
        "watermark) or its write queue is full (overloaded), or the write key's request, event or "
        "invalid-event budget is spent (rate_limited); retry after Retry-After seconds"
    },
}


def _key_cache(state: AppState) -> WriteKeyCache:
    cache = state.services.get("write_keys")
    if cache is None:
        cache = state.services["write_keys"] = WriteKeyCache(state.engine)
    assert isinstance(cache, WriteKeyCache)
    return cache


async def _pii_sealer(state: AppState, tenant_id: str, body: bytes | None = None) -> PiiSealer:
    """The tenant's WAL sealer. If the body may carry PII and the data key is not cached, the key is
    loaded in a worker thread first, so the event loop never waits on the store; bodies without
    PII-looking keys (most) never touch the keyring."""
    if body is None or may_hold_pii(body):
        ring = keyring(state.engine)
        if not ring.has_current(tenant_id):
            await run_in_threadpool(ring.tenant_key, tenant_id, "data")
            if body is None or b"@" in body:  # an e-mail userId is pseudonymised with the tenant's key
                await run_in_threadpool(ring.pseudonym_key, tenant_id)
    return wal_sealer(state.engine, tenant_id)


def _dead_sealer(state: AppState, tenant_id: str) -> service.PayloadCodec:
    return dead_letter_sealer(state.engine, tenant_id)


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The body, undone from its Content-Encoding (415 if unknown), at most ``limit`` bytes decoded, within
    ``timeout`` seconds (408 after, with ``Connection: close``): the request holds a body slot meanwhile."""
    coding = parse_content_encoding(request.headers.get("content-encoding"))
    try:
        async with asyncio.timeout(timeout):
            return await read_body(request.stream(), limit, coding, request.headers.get("content-length"))
    except TimeoutError:
        error = RequestTimeout(
            f"the request body did not arrive within {timeout:g} s", {"timeout_seconds": timeout}
        )
        error.close_connection = True
        raise error from None


def _limiter(state: AppState) -> RateLimiter | None:
    limiter = state.services.get("ratelimit")
    return limiter if isinstance(limiter, RateLimiter) and limiter.enabled else None


async def _check_write_key_budget(
    state: AppState, source: SourceInfo, events: int, body_key: str | None
) -> None:
    """Per write key: the batch's events come out of the events bucket, and a key whose invalid-event
    budget is spent is refused before its body is validated (429 either way, nothing charged then).
    A key sent only in the body (``body_key``) also pays its per-request token here: the rate-limit
    middleware sees headers only."""
    limiter = _limiter(state)
    if limiter is None:
        return
    charges = [
        Charge(limiter.write_key_invalid, f"write_key_invalid:{source.id}", 0),
        Charge(limiter.write_key_events, f"write_key_events:{source.id}", events),
    ]
    if body_key is not None:
        charges.append(limiter.write_key_charge(body_key.encode()))
    denial = await limiter.buckets.take(charges)
    if denial is not None:
        raise denied(denial)


async def _check_invalid_budget(state: AppState, source: SourceInfo) -> None:
    """Is the key's invalid-event budget spent? Asked before the body is read (nothing charged)."""
    limiter = _limiter(state)
    if limiter is None:
        return
    denial = await limiter.buckets.take(
        [Charge(limiter.write_key_invalid, f"write_key_invalid:{source.id}", 0)]
    )
    if denial is not None:
        raise denied(denial)


async def _spend_invalid(state: AppState, source: SourceInfo, invalid: int) -> None:
    limiter = _limiter(state)
    if limiter is not None and invalid:
        await limiter.buckets.spend(
            [Charge(limiter.write_key_invalid, f"write_key_invalid:{source.id}", invalid)]
        )


async def _refuse_request(
    state: AppState, source: SourceInfo, body: bytes, reason: str, received_at: datetime, invalid: int
) -> None:
    """A request refused as a whole leaves one dead letter (a sample of its body) and spends the key's
    invalid-event budget; the caller then raises the 400."""
    pipeline: IngestWriter = state.services["ingest"]
    await _spend_invalid(state, source, invalid)
    set_tenant(await pipeline.prepare_tenant(source.tenant_id))
    rejection = service.request_rejection(body, reason)
    seal = _dead_sealer(state, source.tenant_id)
    await pipeline.submit(
        source.tenant_id, [], [service.dead_letter_line(source.id, received_at, rejection, seal)]
    )


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _shedder(state: AppState) -> LoadShedder:
    shedder = state.services.get("ingest_shedding")
    if shedder is None:
        shedder = state.services["ingest_shedding"] = LoadShedder(state.settings)
    assert isinstance(shedder, LoadShedder)
    return shedder


@dataclass
class _Validated:
    """What a request hands to the writer: its lines, not its body (dropped once validated)."""

    source: SourceInfo
    accepted: list[Accepted]
    dead: list[bytes]
    rejected: list[dict[str, Any]]


async def _ingest(request: Request, kind: str, strict: bool) -> Response:
    state: AppState = request.app.state.ecomops
    pipeline: IngestWriter = state.services["ingest"]
    with _shedder(state).admit():
        validated = await _validate(request, state, kind, strict)
    result = await pipeline.submit(validated.source.tenant_id, validated.accepted, validated.dead)
    return _json(
        {
            "success": True,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": validated.rejected,
        }
    )


async def _validate(request: Request, state: AppState, kind: str, strict: bool) -> _Validated:
    """Read, authenticate and validate one request (under a body slot). A key sent in a header is
    resolved, and its invalid-event budget checked, before the body is read: an unknown key or a key
    that only sends junk costs no body read."""
    pipeline: IngestWriter = state.services["ingest"]
    received_at = datetime.now(UTC)
    cache = _key_cache(state)
    header_key = write_key_from_headers(request)
    try:
        source: SourceInfo | None = await cache.resolve(header_key) if header_key else None
        if header_key and source is None:
            raise Unauthorized("unknown or revoked write key")
        if source is not None:
            await _check_invalid_budget(state, source)
    except EcomopsError as exc:
        exc.close_connection = True  # refused before the body was read: do not read it to discard it
        raise
    limit = MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES
    body = await _read_body(request, limit, state.settings.ingest_body_timeout_seconds)
    try:
        envelope = service.decode_body(body, kind)
    except BadRequest as exc:
        if source is not None and exc.code == "malformed_json":
            await _refuse_request(state, source, body, exc.message, received_at, invalid=1)
        raise
    if source is None:
        source = await cache.resolve(envelope.write_key) if envelope.write_key else None
        if source is None:
            raise Unauthorized(
                "missing or unknown write key: send it as the Basic username or a Bearer token"
            )
    await _check_write_key_budget(
        state, source, len(envelope.messages), envelope.write_key if header_key is None else None
    )
    set_tenant(await pipeline.prepare_tenant(source.tenant_id))
    cap = state.settings.ingest_max_invalid_per_request
    processed = service.process(
        envelope,
        kind,
        source,
        received_at,
        await _pii_sealer(state, source.tenant_id, body),
        cap,
        user_pseudonymizer(state.engine, source.tenant_id),
    )
    rejected = [r.as_dict() for r in processed.rejected]
    if processed.gave_up:
        message = (
            f"more than {cap} invalid events in one request; nothing was stored (fix the sender: a request "
            "may carry at most this many invalid events)"
        )
        await _refuse_request(state, source, body, message, received_at, invalid=len(rejected))
        raise BadRequest(
            message,
            {"invalid_events_seen": len(rejected), "max_invalid": cap, "rejected": rejected[:10]},
            code="too_many_invalid_events",
        )
    await _spend_invalid(state, source, len(rejected))
    if strict and processed.rejected:
        pipeline.refused(source.tenant_id, len(processed.rejected))
        raise BadRequest(
            f"{len(rejected)} invalid event(s); nothing was stored (strict mode)",
            {"rejected": rejected},
            code="invalid_events",
        )
    seal_dead = _dead_sealer(state, source.tenant_id)
    dead = [service.dead_letter_line(source.id, received_at, r, seal_dead) for r in processed.rejected]
    return _Validated(source, processed.accepted, dead, rejected)


def _route(kind: str) -> None:
    async def endpoint(
        request: Request,
        strict: Annotated[
            bool, Query(description="Reject the whole request (400) if any event is invalid")
        ] = False,
    ) -> Response:
        return await _ingest(request, kind, strict)

    endpoint.__name__ = f"ingest_{kind}"
    schema = _BATCH_SCHEMA if kind == "batch" else _MESSAGE_SCHEMA
    router.add_api_route(
        f"/v1/{kind}",
        endpoint,
        methods=["POST"],
        tags=["ingest"],
        responses=_RESPONSES,
        summary=f"Segment {kind}",
        description=_DESCRIPTION,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "security": [{"writeKeyBasic": []}, {"writeKeyBearer": []}],
        },
    )


for _kind in (*MESSAGE_TYPES, "batch"):
    _route(_kind)


# -- dead letters (management API) ----------------------------------------------------------------


class ReplayRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    payload: dict[str, Any] | None = Field(
        default=None, description="Corrected event to store instead of the original payload"
    )


@router.get("/api/v1/t/{tenant}/ingest/dead-letters", tags=["ingest"], response_model=list[DeadLetter])
async def dead_letters(
    ctx: TenantDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    include_replayed: bool = False,
    reveal: Annotated[
        bool,
        Query(
            description="Show personal data in payloads: needs customers:read_pii and a fresh second factor"
        ),
    ] = False,
) -> list[DeadLetter]:
    """Events the ingest API refused, newest first, with the reason and the raw payload (personal values
    masked unless revealed; audited)."""
    require(ctx, "ingest:read_dead_letters")
    if reveal:
        require(ctx, "customers:read_pii")
        require_step_up(ctx, "dead-letter payloads with personal data")
    return await run_in_threadpool(
        lambda: deadletters.list_dead_letters(
            state, ctx.tenant, limit=limit, offset=offset, include_replayed=include_replayed, reveal=reveal
        )
    )


@router.post(
    "/api/v1/t/{tenant}/ingest/dead-letters/{dead_letter_id}/replay",
    tags=["ingest"],
    response_model=ReplayResult,
    responses={422: {"description": "The letter cannot be replayed as it is (validation_failed)"}},
)
async def replay_dead_letter(
    dead_letter_id: str,
    ctx: TenantDep,
    state: StateDep,
    body: Annotated[ReplayRequest | None, Body()] = None,
) -> ReplayResult:
    """Validate a dead letter again (or its corrected payload) and store it through the normal path."""
    require(ctx, "events:write_dead_letters")
    corrected = body.payload if body else None
    return await run_in_threadpool(
        deadletters.replay_dead_letter, state, ctx.tenant, dead_letter_id, corrected
    )
