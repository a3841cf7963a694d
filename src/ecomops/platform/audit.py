"""Record into the per-tenant hash-chained audit log (every state change in every module goes here).

Chain format: a tenant's records are numbered ``seq`` 1, 2, 3… Each carries ``prev_hash`` (the
``hash`` of record ``seq - 1``, or 64 zeros for the first) and ``hash`` = HMAC-SHA256 under the
audit key of the canonical JSON of every other column except the surrogate ``id``. Because the
HMAC covers ``seq`` and ``prev_hash``, editing a field, deleting or inserting a row, or swapping
two rows' positions makes ``verify`` fail at the first affected ``seq``; forging a replacement
needs the key, which never lives in the database. Truncating the newest records leaves a valid
shorter chain, so verification (the audit module) also reports the head for anchoring elsewhere.

Appends are serialised per tenant: on PostgreSQL by ``SELECT … FOR NO KEY UPDATE`` of the tenant row,
on SQLite by taking the database write lock (``BEGIN IMMEDIATE``, or the lock the caller's
session already holds after its own writes) before reading the chain head. The unique
``(tenant_id, seq)`` constraint is the backstop: a writer that loses a race fails and retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import NotFound
from ecomops.kernel.ids import new_id
from ecomops.platform.context import current
from ecomops.platform.crypto.pseudonym import FileKeys
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.models import AuditRecord, Tenant
from ecomops.platform.store.scoping import (
    TenantScope,
    TenantScopeError,
    apply_scope,
    scope_of,
)

GENESIS = "0" * 64
#: Domain separation: the master key may later derive other keys; this one only signs audit records.
_KEY_LABEL = b"ecomops/audit-log/v1"
_APPEND_ATTEMPTS = 5
#: Columns covered by the HMAC, in the order they are documented (the JSON is key-sorted anyway).
HASHED_FIELDS = (
    "tenant_id",
    "seq",
    "at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "ip",
    "request_id",
    "before_digest",
    "after_digest",
    "details",
    "prev_hash",
)


def audit_key(settings: Settings | None = None) -> bytes:
    """The HMAC key: derived from ``ECOMOPS_MASTER_KEY`` if set, else ``<data_dir>/keys/audit.key``.

    The key file is random, created once with mode 0600 (atomically, so concurrent first uses agree).
    Hosts sharing one PostgreSQL store must share the key, which is what the master key is for.
    """
    cfg = settings or get_settings()
    if cfg.master_key is not None:
        master = cfg.master_key.get_secret_value().encode()
        return hmac.new(master, _KEY_LABEL, hashlib.sha256).digest()
    return FileKeys(cfg.resolved_data_dir / "keys").key_for("audit")


def canonical(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8): the same content always hashes the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(value: Any) -> str | None:
    """SHA-256 of the canonical JSON of a before/after state; the state itself is not stored."""
    if value is None:
        return None
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def _format_at(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(key: bytes, fields: dict[str, Any]) -> str:
    content = {name: fields[name] for name in HASHED_FIELDS}
    content["at"] = _format_at(content["at"])
    return hmac.new(key, canonical(content).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    id: str
    tenant_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    ip: str | None
    request_id: str | None
    before_digest: str | None
    after_digest: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = _format_at(self.at)
        return data


def _append(conn: Connection, key: bytes, fields: dict[str, Any]) -> AuditEntry:
    """Read the chain head and insert the next record; the caller's transaction must hold the lock."""
    tenant_id = fields["tenant_id"]
    if conn.dialect.name == "postgresql":
        # FOR NO KEY UPDATE: serialises audit writers of this tenant without conflicting with the
        # KEY SHARE locks that inserting the audited row (FK to tenants) takes, which would deadlock.
        lock = select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(key_share=True)
        locked = conn.execute(lock).first()
        if locked is None:
            raise NotFound(f"tenant id {tenant_id!r} not found", {"tenant_id": tenant_id})
    head = conn.execute(
        select(AuditRecord.seq, AuditRecord.hash)
        .where(AuditRecord.tenant_id == tenant_id)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).first()
    fields = {
        **fields,
        "seq": head.seq + 1 if head is not None else 1,
        "prev_hash": head.hash if head is not None else GENESIS,
        "at": utcnow(),
    }
    entry = AuditEntry(id=new_id("aud_"), hash=record_hash(key, fields), **fields)
    conn.execute(insert(AuditRecord).values(**asdict(entry)))
    return entry


def record(
    target: Engine | Session,
    tenant_id: str,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    *,
    ip: str | None = None,
    request_id: str | None = None,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one record to the tenant's chain.

    Given a Session, the record joins the caller's transaction, so the change and its audit record
    commit (or roll back) together; given an Engine, it commits on its own.

    The Session must be ``tenant_session`` of this tenant or a ``system_session``: the append runs
    Core statements on the session's connection, which the ORM tenant filter cannot see, so the
    scope is checked here (and on PostgreSQL the connection carries the scope's RLS setting).
    The Engine path sets ``app.tenant_id`` on its own connection for the same reason.
    """
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "ip": ip,
        "request_id": request_id,
        "before_digest": digest(before),
        "after_digest": digest(after),
        # Round-trip through JSON so what is stored is exactly what was hashed.
        "details": json.loads(canonical(details or {})),
    }
    key = audit_key()
    if isinstance(target, Session):
        scope = scope_of(target)
        if scope is None or (isinstance(scope, TenantScope) and scope.tenant_id != tenant_id):
            opened = "an unscoped session" if scope is None else f"tenant_session({scope.tenant_id!r})"
            raise TenantScopeError(
                f"audit record {action!r} for tenant {tenant_id!r} through {opened}; pass that tenant's "
                "tenant_session, a system_session, or the Engine"
            )
        return _append(target.connection(), key, fields)
    for attempt in range(_APPEND_ATTEMPTS):
        try:
            with target.connect() as conn:
                if conn.dialect.name == "sqlite":
                    # Take the write lock before reading the head: a deferred transaction would let two
                    # writers read the same head (pysqlite has not begun one yet, so this is the BEGIN).
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                apply_scope(conn, TenantScope(tenant_id))  # PostgreSQL RLS: this tenant's rows only
                entry = _append(conn, key, fields)
                conn.commit()
                return entry
        except IntegrityError:
            if attempt == _APPEND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def record_action(
    target: Engine | Session,
    tenant_id: str,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """``record`` with actor, IP and request id of whoever is acting now (``audit.context``)."""
    ctx = current()
    return record(
        target,
        tenant_id,
        ctx.actor,
        action,
        target_type,
        target_id,
        ip=ctx.ip,
        request_id=ctx.request_id,
        before=before,
        after=after,
        details=details,
    )


def entry_of(row: Any) -> AuditEntry:
    """A stored ``audit_log`` row as an entry (for readers of the chain)."""
    return AuditEntry(**{name: getattr(row, name) for name in AuditEntry.__dataclass_fields__})
