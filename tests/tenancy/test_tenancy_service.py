"""Tenants, sources with write keys and API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.platform import tenants
from ecomops.platform.store.scoping import system_session
from ecomops.tenancy import apikeys, service
from ecomops.tenancy.models import ApiKey, Source


def test_create_and_list_tenants(engine: Engine) -> None:
    created = service.create_tenant(engine, "zeta-shop", "Zeta 商店", "Asia/Shanghai", "cny")
    service.create_tenant(engine, "acme", timezone="Europe/Berlin", currency="EUR")

    assert (created.slug, created.name, created.timezone, created.currency) == (
        "zeta-shop",
        "Zeta 商店",
        "Asia/Shanghai",
        "CNY",
    )
    assert created.id.startswith("tn_")
    listed = tenants.list_tenants(engine)
    assert [t.slug for t in listed] == ["acme", "zeta-shop"]
    assert listed[0].name == "acme"  # the name defaults to the slug
    assert tenants.get_tenant(engine, "zeta-shop") == created


@pytest.mark.parametrize(
    ("slug", "timezone", "currency", "field"),
    [
        ("Bad Slug", "UTC", "USD", "slug"),
        ("-leading-dash", "UTC", "USD", "slug"),
        ("x", "UTC", "USD", "slug"),
        ("ok-slug", "Mars/Olympus", "USD", "timezone"),
        ("ok-slug", "UTC", "DOLLARS", "currency"),
        ("ok-slug", "UTC", "U5D", "currency"),
    ],
)
def test_create_tenant_rejects_bad_input(
    engine: Engine, slug: str, timezone: str, currency: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_tenant(engine, slug, None, timezone, currency)
    assert info.value.details == {"field": field}
    assert tenants.list_tenants(engine) == []


def test_duplicate_slug_is_a_conflict(engine: Engine) -> None:
    service.create_tenant(engine, "acme")
    with pytest.raises(Conflict, match="already exists"):
        service.create_tenant(engine, "acme")


def test_unknown_tenant_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        tenants.get_tenant(engine, "ghost")
    with pytest.raises(NotFound):
        service.create_source(engine, "ghost", "site", "web")


def test_source_write_key_is_shown_once_and_stored_hashed(engine: Engine) -> None:
    tenant = service.create_tenant(engine, "acme")
    info, key = service.create_source(engine, "acme", "site", "wechat_mini")

    assert key.startswith(service.WRITE_KEY_PREFIX) and len(key) > 40
    assert info.write_key_prefix == key[:10] and info.tenant_id == tenant.id
    with system_session(engine, "test inspection") as s:
        row = s.get_one(Source, info.id)
        assert row.write_key_hash == hashlib.sha256(key.encode()).hexdigest()
        stored = [row.name, row.channel, row.write_key_hash, row.write_key_prefix]
    assert key not in stored  # only the hash and a short prefix are kept
    # The listing never shows the key again.
    assert [vars(s) for s in service.list_sources(engine, "acme")] == [vars(info)]

    assert service.source_for_write_key(engine, key) == info
    assert service.source_for_write_key(engine, key + "x") is None
    assert service.source_for_write_key(engine, "wk_unknown") is None


def test_revoked_source_key_resolves_to_nothing(engine: Engine) -> None:
    service.create_tenant(engine, "acme")
    info, key = service.create_source(engine, "acme", "site", "web")
    with system_session(engine, "test inspection") as s:
        s.execute(update(Source).where(Source.id == info.id).values(revoked_at=utcnow()))
    assert service.source_for_write_key(engine, key) is None
    assert service.list_sources(engine, "acme") == []


def test_source_names_are_unique_per_tenant_and_channels_are_checked(engine: Engine) -> None:
    service.create_tenant(engine, "acme")
    service.create_tenant(engine, "globex")
    service.create_source(engine, "acme", "site", "web")
    service.create_source(engine, "globex", "site", "web")
    with pytest.raises(Conflict):
        service.create_source(engine, "acme", "site", "app")
    with pytest.raises(ValidationFailed) as info:
        service.create_source(engine, "acme", "tv", "television")
    assert info.value.details == {"field": "channel"}


def test_api_key_with_expiry(engine: Engine) -> None:
    tenant = service.create_tenant(engine, "acme")
    before = utcnow()
    info, key = service.create_api_key(engine, "acme", "analyst", "reports", timedelta(days=30))

    assert key.startswith(apikeys.API_KEY_PREFIX)
    assert info.expires_at is not None
    assert before + timedelta(days=30) <= info.expires_at <= utcnow() + timedelta(days=30)
    resolved = service.api_key_for_secret(engine, key)
    assert resolved is not None
    assert (resolved.id, resolved.tenant_id, resolved.role, resolved.name) == (
        info.id,
        tenant.id,
        "analyst",
        "reports",
    )
    with system_session(engine, "test inspection") as s:
        row = s.get_one(ApiKey, info.id)
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert row.last_used_at is not None  # resolving a key records its use

    assert service.api_key_for_secret(engine, "eco_live_unknown") is None


def test_expired_and_revoked_api_keys_resolve_to_nothing(engine: Engine) -> None:
    service.create_tenant(engine, "acme")
    expired, expired_key = service.create_api_key(engine, "acme", "viewer", expires_in=timedelta(hours=1))
    revoked, revoked_key = service.create_api_key(engine, "acme", "viewer")
    forever, forever_key = service.create_api_key(engine, "acme", "viewer")
    with system_session(engine, "test inspection") as s:
        s.execute(
            update(ApiKey).where(ApiKey.id == expired.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        s.execute(update(ApiKey).where(ApiKey.id == revoked.id).values(revoked_at=utcnow()))
    assert forever.expires_at is None
    assert service.api_key_for_secret(engine, expired_key) is None
    assert service.api_key_for_secret(engine, revoked_key) is None
    assert service.api_key_for_secret(engine, forever_key) is not None


def test_api_key_role_is_checked(engine: Engine) -> None:
    service.create_tenant(engine, "acme")
    with pytest.raises(ValidationFailed) as info:
        service.create_api_key(engine, "acme", "superuser")
    assert info.value.details == {"field": "role"}
    with system_session(engine, "test inspection") as s:
        assert s.scalars(select(ApiKey)).all() == []
