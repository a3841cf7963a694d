"""The tenancy module's use cases and public interface: tenants, event sources (write keys), API keys.

Write keys and API keys are random 256-bit secrets shown once and stored as SHA-256 (a slow hash buys
nothing for secrets with that much entropy and would cost every request). API keys live in
``tenancy.apikeys``; their public functions are re-exported here for other modules.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.exc import IntegrityError

from ecomops.kernel.clock import utcnow, validate_timezone
from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.kernel.money import normalize_currency
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.tenants import get_tenant, tenant_info
from ecomops.tenancy.apikeys import (
    ApiKeyInfo,
    ApiKeyListing,
    ResolvedKey,
    api_key_for_secret,
    cached_api_key,
    create_api_key,
    export_api_keys,
    list_api_keys,
    resolve_api_key,
    revoke_api_key,
)
from ecomops.tenancy.models import Source
from ecomops.tenancy.secrets import hash_secret
from ecomops.tenancy.writekeys import (
    MAX_OVERLAP_HOURS,
    WRITE_KEY_PREFIX,
    SourceInfo,
    new_write_key,
    revoke_source,
    rotate_source,
    source_info,
)

__all__ = [
    "CHANNELS",
    "MAX_OVERLAP_HOURS",
    "WRITE_KEY_PREFIX",
    "ApiKeyInfo",
    "ApiKeyListing",
    "ResolvedKey",
    "SourceInfo",
    "api_key_for_secret",
    "cached_api_key",
    "create_api_key",
    "create_source",
    "create_tenant",
    "export_api_keys",
    "get_source",
    "hash_secret",
    "list_api_keys",
    "list_sources",
    "resolve_api_key",
    "revoke_api_key",
    "revoke_source",
    "rotate_source",
    "source_for_write_key",
]

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CHANNELS = ("web", "wechat_mini", "douyin", "tmall", "jd", "shopify", "app", "pos", "other")


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
    return tenant_info(tenant)


def create_source(engine: Engine, tenant_slug: str, name: str, channel: str) -> tuple[SourceInfo, str]:
    """Create an event source; returns it with its write key, which is never retrievable again."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", {"field": "channel"})
    tenant = get_tenant(engine, tenant_slug)
    write_key = new_write_key()
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
        rows = s.scalars(
            select(Source)
            .where(Source.tenant_id == tenant.id, Source.revoked_at.is_(None))
            .order_by(Source.name)
        )
        return [source_info(r) for r in rows]


def source_for_write_key(engine: Engine, write_key: str) -> SourceInfo | None:
    """The live source whose current key this is, or whose previous key it is during a rotation's overlap."""
    # The key names the tenant, so the lookup cannot be tenant-scoped; the hashes are unique.
    digest = hash_secret(write_key)
    with system_session(engine, "write-key lookup by hash") as s:
        row = s.scalar(
            select(Source).where(
                Source.revoked_at.is_(None),
                or_(
                    Source.write_key_hash == digest,
                    and_(Source.previous_key_hash == digest, Source.previous_key_expires_at > utcnow()),
                ),
            )
        )
        return None if row is None else source_info(row)


def get_source(engine: Engine, tenant_id: str, source_id: str) -> SourceInfo:
    with tenant_session(engine, tenant_id) as s:
        row = s.get(Source, source_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"source {source_id!r} not found", {"source_id": source_id})
        return source_info(row)
