"""Management API keys: created shown once, stored as SHA-256, resolved per request through a cache.

Keys are random 256-bit secrets; a slow hash buys nothing for secrets with that much entropy and would
cost every request. The security module's authenticator resolves presented keys through
:func:`cached_api_key` (no I/O) and :func:`resolve_api_key` (store lookup, fills the cache).
"""

from __future__ import annotations

import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Forbidden, NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import Column, ExportTable, Format, audit_export
from ecomops.platform.roles import ROLES
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.tenants import get_tenant, get_tenant_by_id
from ecomops.platform.web.state import AppState
from ecomops.tenancy.models import ApiKey
from ecomops.tenancy.secrets import hash_secret

API_KEY_PREFIX = "eco_live_"
#: ``last_used_at`` is precise to this much: updating it on every request would make every API call a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    tenant_id: str
    name: str
    role: str
    key_prefix: str
    expires_at: datetime | None


def create_api_key(
    engine: Engine, tenant_slug: str, role: str, name: str = "cli", expires_in: timedelta | None = None
) -> tuple[ApiKeyInfo, str]:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", {"field": "role"})
    tenant = get_tenant(engine, tenant_slug)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + expires_in if expires_in else None
    row = ApiKey(
        tenant_id=tenant.id,
        name=name,
        role=role,
        key_hash=hash_secret(key),
        key_prefix=key[:16],
        expires_at=expires_at,
    )
    with tenant_session(engine, tenant.id) as s:
        s.add(row)
        s.flush()
        # The secret never reaches the log: only what identifies the key and what it may do.
        after = {"name": name, "role": role, "key_prefix": row.key_prefix, "expires_at": expires_at}
        record_action(s, tenant.id, "apikey.create", "api_key", row.id, after=after)
    return ApiKeyInfo(row.id, tenant.id, name, role, row.key_prefix, expires_at), key


def api_key_for_secret(engine: Engine, key: str) -> ApiKeyInfo | None:
    """Resolve a presented key; expired or revoked keys resolve to None.

    Cross-tenant by nature (the key is what tells us the tenant); the hash is unique, and the
    only write is that key's own ``last_used_at``.
    """
    with system_session(engine, "API-key lookup by hash") as s:
        row = s.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(key), ApiKey.revoked_at.is_(None)))
        if row is None:
            return None
        if row.expires_at is not None:
            expires = (
                row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=utcnow().tzinfo)
            )
            if expires <= utcnow():
                return None
        # Coalesced: at most one write per key per LAST_USED_RESOLUTION, not one per request.
        now = utcnow()
        last = row.last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=now.tzinfo)
        if last is None or now - last >= LAST_USED_RESOLUTION:
            row.last_used_at = now
        return ApiKeyInfo(row.id, row.tenant_id, row.name, row.role, row.key_prefix, row.expires_at)


@dataclass(frozen=True)
class ApiKeyListing:
    """A key as listed: no secret, no hash; ``revoked_at`` set once revoked."""

    id: str
    name: str
    role: str
    key_prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def list_api_keys(engine: Engine, tenant_slug: str) -> list[ApiKeyListing]:
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        rows = s.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.id).order_by(ApiKey.created_at))
        return [
            ApiKeyListing(
                r.id, r.name, r.role, r.key_prefix, r.created_at, r.expires_at, r.revoked_at, r.last_used_at
            )
            for r in rows
        ]


#: API keys as a file (the API keys page and ``GET …/keys?format=``): never a secret, only its prefix.
KEY_COLUMNS = (
    Column("name", N_("Name")),
    Column("role", N_("Role")),
    Column("key_prefix", N_("Key")),
    Column("created_at", N_("Created"), "datetime"),
    Column("expires_at", N_("Expires"), "datetime"),
    Column("last_used_at", N_("Last used"), "datetime"),
    Column("revoked_at", N_("Revoked"), "datetime"),
    Column("id", N_("Key ID")),
)


def export_api_keys(engine: Engine, tenant: TenantInfo, fmt: Format, *, via: str) -> ExportTable:
    """The "export API keys" use case: :func:`list_api_keys`'s rows (revoked ones too, with the time);
    audited as ``keys.export``."""
    keys = list_api_keys(engine, tenant.slug)
    audit_export(engine, tenant.id, "keys", fmt, filters={}, rows=len(keys), via=via)
    rows = (asdict(k) for k in keys)
    return ExportTable("api-keys", KEY_COLUMNS, rows, tenant.timezone, len(keys))


def revoke_api_key(engine: Engine, tenant_slug: str, key_id: str, *, caller_role: str | None = None) -> None:
    """Revoke a key at once (``api_key_for_secret`` ignores revoked keys); revoking twice is a no-op.

    The key must belong to ``tenant_slug``: another tenant's key id answers "not found" so ids of
    other tenants' keys cannot be probed or revoked from here. An owner key can only be revoked by an
    owner (``caller_role``), like only an owner can create one: otherwise an admin could cut the owners'
    automation off and leave its own keys standing. The key's role is only known here, so the check is
    made in the revoking transaction. ``caller_role`` None is the operator on the server's machine (the
    CLI without a server), who holds the data dir and acts as owner.
    """
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.tenant_id != tenant.id:
            raise NotFound(f"API key {key_id!r} not found in tenant {tenant_slug!r}", {"key_id": key_id})
        if row.role == "owner" and caller_role not in (None, "owner"):
            raise Forbidden(
                "only an owner can revoke an owner's API key",
                {"role": caller_role, "key_role": row.role, "key_id": key_id},
            )
        if row.revoked_at is not None:
            return
        state = {"name": row.name, "role": row.role, "key_prefix": row.key_prefix}
        before = {**state, "revoked_at": None}
        row.revoked_at = utcnow()
        s.flush()
        record_action(
            s,
            tenant.id,
            "apikey.revoke",
            "api_key",
            row.id,
            before=before,
            after={**state, "revoked_at": row.revoked_at},
        )


ResolvedKey = tuple[ApiKeyInfo, TenantInfo]


def _resolve_api_key(engine: Engine, token: str) -> ResolvedKey | None:
    """The key and its tenant in one worker-thread hop (the key says which tenant it belongs to)."""
    key = api_key_for_secret(engine, token)
    if key is None:
        return None
    return key, get_tenant_by_id(engine, key.tenant_id)


class ApiKeyCache:
    """Resolved API keys of this process for ``ttl`` seconds, so a request costs no store query.

    Why: resolving a key is a SHA-256 plus a store query (and a thread hop) per request, several
    times what a cheap route costs. Bounds: a key revoked (or its role or expiry changed) through
    this process is forgotten when that transaction commits (``_forget_changed_keys``); revoked by
    another process (the CLI, another server), it keeps working here for at most ``ttl`` seconds
    (``Settings.api_key_cache_seconds``). Expiry is checked on every hit. Only valid keys are kept,
    under the SHA-256 of the secret, never the secret; unknown keys always go to the store (the
    rate limiter bounds how often). At most ``max_entries`` keys; the oldest go first.
    """

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, ResolvedKey]] = {}
        _CACHES.add(self)

    def get(self, digest: str) -> ResolvedKey | None:
        hit = self._entries.get(digest)
        if hit is None:
            return None
        until, resolved = hit
        expires = resolved[0].expires_at
        if until <= self.clock() or (expires is not None and expires <= utcnow()):
            self._entries.pop(digest, None)
            return None
        return resolved

    def put(self, digest: str, resolved: ResolvedKey) -> None:
        while len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[digest] = (self.clock() + self.ttl, resolved)

    def forget(self, key_ids: set[str]) -> None:
        for digest in [d for d, (_, (key, _)) in self._entries.items() if key.id in key_ids]:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[ApiKeyCache] = weakref.WeakSet()
_CHANGED_KEYS = "ecomops.changed_api_keys"
#: Columns whose change must reach every cache at once (``last_used_at`` is not one of them).
_ACCESS_COLUMNS = ("revoked_at", "role", "expires_at", "tenant_id", "key_hash")


@event.listens_for(Session, "after_flush")
def _note_changed_keys(session: Session, _context: Any) -> None:
    """Collect API keys whose access changed in this flush (state is still pre-flush here)."""
    changed = {obj.id for obj in session.deleted if isinstance(obj, ApiKey)}
    for obj in session.dirty:
        if isinstance(obj, ApiKey):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in _ACCESS_COLUMNS):
                changed.add(obj.id)
    if changed:
        session.info.setdefault(_CHANGED_KEYS, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _forget_changed_keys(session: Session) -> None:
    changed = session.info.pop(_CHANGED_KEYS, None)
    if changed:
        for cache in list(_CACHES):
            cache.forget(changed)


@event.listens_for(Session, "after_rollback")
def _drop_noted_keys(session: Session) -> None:
    session.info.pop(_CHANGED_KEYS, None)


def api_key_cache(state: AppState) -> ApiKeyCache | None:
    """This server's cache, made on first use; None when ``api_key_cache_seconds`` is 0."""
    cache = state.services.get("api_keys")
    if cache is None:
        ttl = state.settings.api_key_cache_seconds
        if ttl <= 0:
            return None
        cache = state.services["api_keys"] = ApiKeyCache(ttl)
    assert isinstance(cache, ApiKeyCache)
    return cache


def cached_api_key(state: AppState, token: str) -> ResolvedKey | None:
    """The key and its tenant if this process resolved it lately (no I/O: safe on the event loop)."""
    cache = api_key_cache(state)
    return cache.get(hash_secret(token)) if cache is not None else None


def resolve_api_key(state: AppState, token: str) -> ResolvedKey | None:
    """Look the key up in the store (expired or revoked: None) and remember it in the cache."""
    resolved = _resolve_api_key(state.engine, token)
    cache = api_key_cache(state)
    if resolved is not None and cache is not None:
        cache.put(hash_secret(token), resolved)
    return resolved
