"""Anchors: a signed note of a tenant's audit-chain head, kept outside the database.

The hash chain catches edits, insertions and deletions in the middle, but deleting the newest records
leaves a shorter chain that is still valid. An anchor records the head (``seq`` and ``hash``) at some
moment, signed with a key derived from the audit key; stored elsewhere (a ticket, a log shipper, a
colleague's mailbox), it lets ``verify`` prove later that the log still reaches that record unchanged.
Someone who can rewrite the database but not read the audit key can neither forge an anchor for a
truncated log nor re-grow the chain to match one.

Format (one line, safe to paste anywhere)::

    ecomops-audit-anchor/v1;tenant=<tenant id>;seq=<n>;hash=<64 hex>;at=<ISO time>;mac=<64 hex>

``mac`` = HMAC-SHA256(HMAC-SHA256(audit key, "ecomops/audit-anchor/v1"), canonical JSON of the other
fields). The derived key keeps anchors and records apart: no record hash can pass as an anchor MAC.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from ecomops.audit import service
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, ValidationFailed
from ecomops.platform import audit as recording
from ecomops.platform.store.models import AuditRecord
from ecomops.platform.store.scoping import tenant_connection

PREFIX = "ecomops-audit-anchor/v1"
_KEY_LABEL = b"ecomops/audit-anchor/v1"
_FIELDS = ("tenant", "seq", "hash", "at", "mac")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SEQ = re.compile(r"^[0-9]{1,18}$")
#: Longest anchor string accepted (ids are short; this bounds what the API parses).
MAX_LENGTH = 400


@dataclass(frozen=True)
class Anchor:
    tenant_id: str
    seq: int
    hash: str
    at: datetime
    mac: str

    def encode(self) -> str:
        return (
            f"{PREFIX};tenant={self.tenant_id};seq={self.seq};hash={self.hash};"
            f"at={format_time(self.at)};mac={self.mac}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "anchor": self.encode(),
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "hash": self.hash,
            "at": format_time(self.at),
        }


def format_time(at: datetime) -> str:
    """UTC, whole seconds: what the anchor string carries and its MAC covers."""
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _mac(tenant_id: str, seq: int, head_hash: str, at: datetime) -> str:
    key = hmac.new(recording.audit_key(), _KEY_LABEL, hashlib.sha256).digest()
    content = {"tenant_id": tenant_id, "seq": seq, "hash": head_hash, "at": format_time(at)}
    return hmac.new(key, recording.canonical(content).encode(), hashlib.sha256).hexdigest()


def make_anchor(engine: Engine, tenant_id: str) -> Anchor:
    """Verify the chain and sign its head; a broken chain is refused (anchoring would bless it)."""
    result = service.verify(engine, tenant_id)
    if not result.ok:
        raise Conflict(
            f"audit chain is broken at seq {result.first_broken_seq} ({result.reason}); "
            "an anchor of a tampered log would vouch for it",
            {"first_broken_seq": result.first_broken_seq},
        )
    if result.last_seq is None or result.head_hash is None:
        raise Conflict("the audit chain is empty: nothing to anchor yet", {"tenant_id": tenant_id})
    at = utcnow().replace(microsecond=0)
    return Anchor(
        tenant_id,
        result.last_seq,
        result.head_hash,
        at,
        _mac(tenant_id, result.last_seq, result.head_hash, at),
    )


def parse_anchor(text: str) -> Anchor:
    """Take an anchor string apart; every problem names the field (``ValidationFailed``, 422)."""
    text = text.strip()
    if len(text) > MAX_LENGTH or not text.startswith(PREFIX + ";"):
        raise ValidationFailed(
            f"an anchor starts with '{PREFIX};' and is at most {MAX_LENGTH} characters",
            {"field": "anchor"},
        )
    parts: dict[str, str] = {}
    for item in text[len(PREFIX) + 1 :].split(";"):
        name, sep, value = item.partition("=")
        if not sep or name not in _FIELDS or name in parts:
            raise ValidationFailed(
                f"anchor part {item!r} is not one of {', '.join(_FIELDS)}", {"field": "anchor"}
            )
        parts[name] = value
    missing = [name for name in _FIELDS if name not in parts]
    if missing:
        raise ValidationFailed(f"anchor lacks {', '.join(missing)}", {"field": "anchor", "missing": missing})
    if not _SEQ.match(parts["seq"]) or int(parts["seq"]) < 1:
        raise ValidationFailed("anchor seq must be a positive integer", {"field": "anchor.seq"})
    for name in ("hash", "mac"):
        if not _HEX64.match(parts[name]):
            raise ValidationFailed(
                f"anchor {name} must be 64 lowercase hex digits", {"field": f"anchor.{name}"}
            )
    try:
        at = datetime.fromisoformat(parts["at"])
    except ValueError as exc:
        raise ValidationFailed("anchor at must be an ISO 8601 time", {"field": "anchor.at"}) from exc
    if at.tzinfo is None:
        raise ValidationFailed("anchor at must carry a UTC offset", {"field": "anchor.at"})
    return Anchor(parts["tenant"], int(parts["seq"]), parts["hash"], at, parts["mac"])


def _hash_at(engine: Engine, tenant_id: str, seq: int) -> str | None:
    query = select(AuditRecord.hash).where(AuditRecord.tenant_id == tenant_id, AuditRecord.seq == seq)
    with tenant_connection(engine, tenant_id) as conn:
        found = conn.execute(query).scalar()
    return str(found) if found is not None else None


def verify_with_anchor(engine: Engine, tenant_id: str, anchor: Anchor) -> service.VerifyResult:
    """``verify`` plus: the log still reaches the anchored record, and that record is unchanged.

    A chain that verifies and holds the anchored hash at the anchored seq contains the anchored
    prefix as it was (each hash covers the previous one). A shorter log is reported at the first
    missing seq; a different hash at the anchored seq means the log was rewritten, or truncated and
    grown again, at or before that seq.
    """
    if anchor.tenant_id != tenant_id:
        raise ValidationFailed(
            f"the anchor belongs to tenant id {anchor.tenant_id!r}, not {tenant_id!r}",
            {"field": "anchor.tenant"},
        )
    result = service.verify(engine, tenant_id)
    if not result.ok:
        return result

    def failed(seq: int | None, reason: str) -> service.VerifyResult:
        return service.VerifyResult(False, result.checked, seq, reason, result.last_seq, result.head_hash)

    expected = _mac(anchor.tenant_id, anchor.seq, anchor.hash, anchor.at)
    if not hmac.compare_digest(expected, anchor.mac):
        return failed(
            None, "the anchor's signature does not verify: it was edited or made with another audit key"
        )
    when = format_time(anchor.at)
    last = result.last_seq or 0
    if last < anchor.seq:
        return failed(
            last + 1,
            f"the log ends at seq {last} but the anchor of {when} recorded seq {anchor.seq}: "
            f"records {last + 1}..{anchor.seq} were removed",
        )
    stored = _hash_at(engine, tenant_id, anchor.seq)
    if stored is None or not hmac.compare_digest(stored, anchor.hash):
        return failed(
            anchor.seq,
            f"record seq {anchor.seq} differs from the anchor of {when}: the log was rewritten, or "
            "truncated and grown again, at or before this seq",
        )
    return result
