"""Revoking and rotating a source's write key.

Write keys ship inside storefront JavaScript and mini-program bundles, so a leaked one must be
replaceable without losing the events of clients that still carry it: a rotation issues a new key and
keeps the previous one working for an overlap period (24 h by default, 0 to end it at once); a
revocation ends the source's keys at once. Both are audited; neither ever stores or shows a key again
after the answer that creates it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.tenants import get_tenant
from ecomops.tenancy.models import Source
from ecomops.tenancy.secrets import hash_secret

WRITE_KEY_PREFIX = "wk_"
#: Longest overlap a rotation may keep the previous key for.
MAX_OVERLAP_HOURS = 24 * 30


@dataclass(frozen=True)
class SourceInfo:
    id: str
    tenant_id: str
    name: str
    channel: str
    write_key_prefix: str
    #: While a rotation's overlap runs, the previous key works until then; None otherwise.
    previous_key_expires_at: datetime | None = None


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(32)


def source_info(row: Source, now: datetime | None = None) -> SourceInfo:
    until = row.previous_key_expires_at
    if until is not None and until <= (now or utcnow()):
        until = None
    return SourceInfo(row.id, row.tenant_id, row.name, row.channel, row.write_key_prefix, until)


def _find(s: Session, tenant_id: str, source: str) -> Source:
    """A live source of the tenant by id or by name (names are unique per tenant)."""
    row = s.scalar(
        select(Source).where(
            Source.tenant_id == tenant_id,
            Source.revoked_at.is_(None),
            or_(Source.id == source, Source.name == source),
        )
    )
    if row is None:
        raise NotFound(f"source {source!r} not found", {"source": source})
    return row


def _state(row: Source) -> dict[str, object]:
    return {
        "name": row.name,
        "write_key_prefix": row.write_key_prefix,
        "previous_key_expires_at": row.previous_key_expires_at,
        "revoked_at": row.revoked_at,
    }


def revoke_source(engine: Engine, tenant_slug: str, source: str) -> SourceInfo:
    """End the source's write keys (current and any previous one) at once; events sent with them are
    refused with 401 from then on (a server that cached the key stops within its cache time)."""
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        row = _find(s, tenant.id, source)
        before = _state(row)
        now = utcnow()
        row.revoked_at = now
        row.previous_key_hash = None
        row.previous_key_expires_at = None
        s.flush()
        record_action(s, tenant.id, "source.revoke", "source", row.id, before=before, after=_state(row))
        return source_info(row, now)


def rotate_source(
    engine: Engine, tenant_slug: str, source: str, overlap_hours: float = 24
) -> tuple[SourceInfo, str]:
    """Issue a new write key; the current one keeps working for ``overlap_hours`` (0: not at all).

    Returns the source and the new key, shown only this once. Rotating again during an overlap ends the
    older key at once: a source has at most two working keys.
    """
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationFailed(
            f"overlap_hours must be between 0 and {MAX_OVERLAP_HOURS}", {"field": "overlap_hours"}
        )
    tenant = get_tenant(engine, tenant_slug)
    key = new_write_key()
    with tenant_session(engine, tenant.id) as s:
        row = _find(s, tenant.id, source)
        before = _state(row)
        now = utcnow()
        if overlap_hours > 0:
            row.previous_key_hash = row.write_key_hash
            row.previous_key_expires_at = now + timedelta(hours=overlap_hours)
        else:
            row.previous_key_hash = None
            row.previous_key_expires_at = None
        row.write_key_hash = hash_secret(key)
        row.write_key_prefix = key[:10]
        s.flush()
        record_action(s, tenant.id, "source.rotate", "source", row.id, before=before, after=_state(row))
        return source_info(row, now), key
