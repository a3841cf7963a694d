"""PII on the ingest path: sealed at the edge into the WAL line, opened by the loader into the vault.

The edge encrypts an event's personal data as one blob (AAD binds tenant + message id) with the
tenant data key the keyring keeps in memory, so the hot path costs one AES-GCM operation per event
that carries PII and no database round trip. The loader decrypts those blobs and upserts them into
``customer_pii`` *before* committing the DuckDB load: a crash in between re-runs an idempotent upsert,
never loses the data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence

import orjson
from sqlalchemy import Engine

from ecomops.ingest.loader import load_pending
from ecomops.ingest.messages import FILL_PREFIX, PiiSealer
from ecomops.ingest.sealed import PiiSink, UnloadableLine, WalPii
from ecomops.ingest.wal import TenantWal
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto.keyring import CiphertextInvalid, Keyring, keyring
from ecomops.platform.crypto.pseudonym import pseudonymize_email
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.web.state import AppState
from ecomops.privacy.service import PII_FIELDS, may_hold_pii, upsert_many

#: Field name bound into the AAD of WAL blobs (vault ciphertexts use the vault field names).
WAL_FIELD = "wal-pii"
#: Dead-letter payloads that may hold PII are stored as this prefix + base64 ciphertext.
DEAD_FIELD = "dead-letter"
DEAD_PREFIX = "ecomops-sealed:v1:"


def wal_sealer(engine: Engine, tenant_id: str) -> PiiSealer:
    """Seals an event's PII for its WAL line; the keyring is looked up only when an event has PII."""

    rings: list[Keyring] = []

    def seal(message_id: str, data: bytes) -> str:
        if not rings:
            rings.append(keyring(engine))
        blob = rings[0].encrypt_field(tenant_id, WAL_FIELD, message_id, data.decode())
        return base64.b64encode(blob).decode()

    return seal


def user_pseudonymizer(engine: Engine, tenant_id: str) -> Callable[[str], str]:
    """An e-mail address sent as ``userId`` → the tenant's keyed pseudonym of it (the same one imports
    give that buyer, so both paths meet on one customer id); the address itself goes to the vault."""

    def pseudonymize(email: str) -> str:
        return pseudonymize_email(keyring(engine).pseudonym_key(tenant_id), email)

    return pseudonymize


def open_wal_pii(engine: Engine, tenant_id: str, item: WalPii) -> dict[str, str]:
    ring = keyring(engine)
    text = ring.decrypt_field(tenant_id, WAL_FIELD, item.message_id, base64.b64decode(item.sealed))
    fields = orjson.loads(text)
    return {
        k: v
        for k, v in fields.items()
        if isinstance(v, str) and (k in PII_FIELDS or (k.startswith(FILL_PREFIX) and k[5:] in PII_FIELDS))
    }


def store_wal_pii(engine: Engine, tenant_id: str, items: Sequence[WalPii]) -> int:
    """Upsert the loaded events' PII into the vault (later events win per field; ``fill:`` fields, from
    an order's properties, only where the customer has no value yet); returns customers."""
    merged: dict[str, dict[str, str]] = {}
    fills: dict[str, dict[str, str]] = {}
    for item in items:
        customer_id = item.customer_id
        if customer_id is None:
            continue
        try:
            fields = open_wal_pii(engine, tenant_id, item)
        except (CiphertextInvalid, binascii.Error, ValueError) as exc:
            # A damaged blob would fail every retry and stall the tenant: the loader quarantines the line
            # (still sealed) as a dead letter. Key problems (wrong master) are not caught: they must stop
            # loading until fixed, not turn every event into a dead letter.
            raise UnloadableLine(f"sealed PII of message {item.message_id} cannot be opened: {exc}") from exc
        own = merged.setdefault(customer_id, {})
        for key, value in fields.items():
            if key.startswith(FILL_PREFIX):
                fills.setdefault(customer_id, {}).setdefault(key.removeprefix(FILL_PREFIX), value)
            else:
                own[key] = value
    if not any(merged.values()) and not fills:
        return 0
    keyring(engine).tenant_key(tenant_id, "data")  # any first-use key creation commits before our writes
    changes: dict[str, dict[str, str | None]] = {c: dict(f) for c, f in merged.items() if f}
    with tenant_session(engine, tenant_id) as session:
        upsert_many(session, tenant_id, changes, fills)
    return len(merged)


def vault_sink(engine: Engine) -> Callable[[str], PiiSink]:
    """Per-tenant sink factory for the ingest pipeline."""

    def for_tenant(tenant_id: str) -> PiiSink:
        def sink(items: Sequence[WalPii]) -> None:
            store_wal_pii(engine, tenant_id, items)

        return sink

    return for_tenant


def dead_letter_sealer(engine: Engine, tenant_id: str) -> Callable[[str, str], str]:
    """Seal a refused event's raw payload when it may carry PII (same key test as the edge uses).

    Dead letters keep the raw payload so it can be inspected and replayed; sealed, the payload is
    only readable through the audited dead-letter API/CLI, never from the WAL or warehouse files.
    """

    def seal(dead_letter_id: str, payload: str) -> str:
        if not may_hold_pii(payload.encode()):
            return payload
        blob = keyring(engine).encrypt_field(tenant_id, DEAD_FIELD, dead_letter_id, payload)
        return DEAD_PREFIX + base64.b64encode(blob).decode()

    return seal


def dead_letter_opener(engine: Engine, tenant_id: str) -> Callable[[str, str], str]:
    def open_(dead_letter_id: str, payload: str) -> str:
        if not payload.startswith(DEAD_PREFIX):
            return payload
        blob = base64.b64decode(payload.removeprefix(DEAD_PREFIX))
        return keyring(engine).decrypt_field(tenant_id, DEAD_FIELD, dead_letter_id, blob)

    return open_


def load_pending_writes(state: AppState, tenant: TenantInfo, delete_buffers: bool) -> int:
    """The ingest module's pending-writes loader (``Module.pending_loaders``): the tenant's WAL.

    In the server the pipeline does it (it owns the WAL); without a server nobody appends, so what is
    left is loaded here (its PII into the vault) and fully loaded segments are deleted.
    """
    pipeline = state.services.get("ingest")
    if pipeline is not None:
        if delete_buffers:
            return int(pipeline.seal_tenant(tenant.id))
        pipeline.flush()
        return 0
    directory = state.settings.wal_dir() / tenant.id
    if not directory.is_dir():
        return 0
    wal = TenantWal(directory)
    try:
        return load_pending(
            wal,
            state.warehouses.get(tenant.id),
            tenant.currency,
            pii_sink=vault_sink(state.engine)(tenant.id),
        )
    finally:
        wal.close()
