"""Tenant, source and API-key logic. Keys are random 256-bit secrets shown once and stored as SHA-256
(a slow hash buys nothing for secrets with that much entropy and would cost every request)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from ecomops.kernel.clock import utcnow, validate_timezone
from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.kernel.money import normalize_currency
from ecomops.platform.audit import record_action
from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.tenancy.models import ApiKey, Source

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CHANNELS = ("web", "wechat_mini", "douyin", "tmall", "jd", "shopify", "app", "pos", "other")
ROLES = ("owner", "admin", "analyst", "marketer", "operator", "viewer")
WRITE_KEY_PREFIX = "wk_"
API_KEY_PREFIX = "eco_live_"
#: ``last_used_at`` is precise to this much: updating it on every request would make every API call a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TenantInfo:
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    created_at: datetime

    @classmethod
    def of(cls, t: Tenant) -> TenantInfo:
        return cls(t.id, t.slug, t.name, t.timezone, t.currency, t.created_at)


@dataclass(frozen=True)
class SourceInfo:
    id: str
    tenant_id: str
    name: str
    channel: str
    write_key_prefix: str


def _tenant_state(t: Tenant) -> dict[str, str]:
    return {"slug": t.slug, "name": t.name, "timezone": t.timezone, "currency": t.currency}


def create_tenant(
    engine: Engine, slug: str, name: str | None = None, timezone: str = "UTC", currency: str = "USD"
) -> TenantInfo:
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            f"tenant slug {slug!r} must be 2-63 lowercase letters, digits or '-', "
            "starting with a letter or digit",
            {"field": "slug"},
        )
    tenant = Tenant(
        slug=slug,
        name=name or slug,
        timezone=validate_timezone(timezone),
        currency=normalize_currency(currency),
    )
    try:
        # System scope: the tenant row does not exist yet, so no tenant scope could admit it.
        with system_session(engine, "tenant creation") as s:
            s.add(tenant)
            s.flush()
            record_action(s, tenant.id, "tenant.create", "tenant", tenant.id, after=_tenant_state(tenant))
    except IntegrityError as exc:
        raise Conflict(f"tenant {slug!r} already exists", {"field": "slug"}) from exc
    return TenantInfo.of(tenant)


def list_tenants(engine: Engine) -> list[TenantInfo]:
    with system_session(engine, "listing every tenant") as s:
        return [TenantInfo.of(t) for t in s.scalars(select(Tenant).order_by(Tenant.slug))]


def get_tenant(engine: Engine, slug: str) -> TenantInfo:
    with system_session(engine, "tenant lookup by slug") as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise NotFound(f"tenant {slug!r} not found", {"tenant": slug})
        return TenantInfo.of(tenant)


def create_source(engine: Engine, tenant_slug: str, name: str, channel: str) -> tuple[SourceInfo, str]:
    """Create an event source; returns it with its write key, which is never retrievable again."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", {"field": "channel"})
    tenant = get_tenant(engine, tenant_slug)
    write_key = WRITE_KEY_PREFIX + secrets.token_urlsafe(32)
    source = Source(
        tenant_id=tenant.id,
        name=name,
        channel=channel,
        write_key_hash=hash_secret(write_key),
        write_key_prefix=write_key[:10],
    )
    try:
        with tenant_session(engine, tenant.id) as s:
            s.add(source)
            s.flush()
            record_action(
                s,
                tenant.id,
                "source.create",
                "source",
                source.id,
                after={"name": name, "channel": channel, "write_key_prefix": source.write_key_prefix},
            )
    except IntegrityError as exc:
        raise Conflict(
            f"source {name!r} already exists in tenant {tenant_slug!r}", {"field": "name"}
        ) from exc
    return SourceInfo(source.id, tenant.id, name, channel, source.write_key_prefix), write_key


def list_sources(engine: Engine, tenant_slug: str) -> list[SourceInfo]:
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        rows = s.scalars(select(Source).where(Source.tenant_id == tenant.id, Source.revoked_at.is_(None)))
        return [SourceInfo(r.id, r.tenant_id, r.name, r.channel, r.write_key_prefix) for r in rows]


def source_for_write_key(engine: Engine, write_key: str) -> SourceInfo | None:
    # The key names the tenant, so the lookup cannot be tenant-scoped; the hash is unique.
    with system_session(engine, "write-key lookup by hash") as s:
        row = s.scalar(
            select(Source).where(Source.write_key_hash == hash_secret(write_key), Source.revoked_at.is_(None))
        )
        if row is None:
            return None
        return SourceInfo(row.id, row.tenant_id, row.name, row.channel, row.write_key_prefix)


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


def get_tenant_by_id(engine: Engine, tenant_id: str) -> TenantInfo:
    with tenant_session(engine, tenant_id) as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant id {tenant_id!r} not found", {"tenant_id": tenant_id})
        return TenantInfo.of(tenant)


def get_source(engine: Engine, tenant_id: str, source_id: str) -> SourceInfo:
    with tenant_session(engine, tenant_id) as s:
        row = s.get(Source, source_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"source {source_id!r} not found", {"source_id": source_id})
        return SourceInfo(row.id, row.tenant_id, row.name, row.channel, row.write_key_prefix)


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


def revoke_api_key(engine: Engine, tenant_slug: str, key_id: str) -> None:
    """Revoke a key at once (``api_key_for_secret`` ignores revoked keys); revoking twice is a no-op.

    The key must belong to ``tenant_slug``: another tenant's key id answers "not found" so ids of
    other tenants' keys cannot be probed or revoked from here.
    """
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.tenant_id != tenant.id:
            raise NotFound(f"API key {key_id!r} not found in tenant {tenant_slug!r}", {"key_id": key_id})
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
