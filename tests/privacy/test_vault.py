"""The PII vault on SQLite and PostgreSQL: encrypted at rest, blind-index lookup, erasure, masking."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text

from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto import keyring as kr
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.privacy import vault
from ecomops.privacy.models import CustomerPII
from ecomops.tenancy import service as tenancy
from tests.backends import empty_store_engine, pg_schema_url, store_engine, store_url

__all__ = ["empty_store_engine", "pg_schema_url", "store_engine", "store_url"]


@pytest.fixture
def engine(store_engine: Engine) -> Engine:
    """The shared ``tenant`` fixture follows the parametrised store (SQLite, then PostgreSQL)."""
    return store_engine


ANN = {
    "name": "张三",
    "email": "Ann.Lee@Example.com",
    "phone": "+86 138 1234 5678",
    "address": '{"city":"上海","street":"南京路 1 号"}',
}


def test_round_trip_and_ciphertext_at_rest(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", ANN)
    with tenant_session(engine, tenant.id) as s:
        assert vault.get_pii(s, tenant.id, "cust-1") == ANN
        assert vault.get_pii(s, tenant.id, "cust-2") is None
        row = s.scalars(select(CustomerPII)).one()
    stored = b"".join(bytes(getattr(row, f"{f}_ct")) for f in ("name", "email", "phone", "address"))
    for value in ANN.values():
        assert value.encode() not in stored
    assert "Ann" not in (row.email_bidx or "") and len(row.email_bidx or "") == 64


def test_update_keeps_unmentioned_fields_and_clears_blank_ones(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", ANN)
        vault.upsert_pii(s, tenant.id, "cust-1", {"email": "new@example.com", "address": ""})
    with tenant_session(engine, tenant.id) as s:
        got = vault.get_pii(s, tenant.id, "cust-1")
        assert got == {"name": "张三", "email": "new@example.com", "phone": "+86 138 1234 5678"}
        assert vault.find_customer_ids(s, tenant.id, email="ann.lee@example.com") == []
        assert vault.find_customer_ids(s, tenant.id, email=" NEW@example.com") == ["cust-1"]


def test_blind_index_lookup(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", ANN)
        vault.upsert_pii(s, tenant.id, "cust-2", {"email": "ann.lee@example.com", "phone": "13900000000"})
        vault.upsert_pii(s, tenant.id, "cust-3", {"email": "bob@example.com"})
    with tenant_session(engine, tenant.id) as s:
        assert vault.find_customer_ids(s, tenant.id, email="  ANN.LEE@example.COM") == ["cust-1", "cust-2"]
        assert vault.find_customer_ids(s, tenant.id, phone="0086-138-1234-5678") == ["cust-1"]
        assert vault.find_customer_ids(s, tenant.id, email="ann.lee@example.com", phone="13900000000") == [
            "cust-2"
        ]
        assert vault.find_customer_ids(s, tenant.id, email="nobody@example.com") == []
        with pytest.raises(ValidationFailed, match="give an email or a phone"):
            vault.find_customer_ids(s, tenant.id)


def test_tenants_are_isolated(engine: Engine, tenant: TenantInfo) -> None:
    other = tenancy.create_tenant(engine, "other", "Other", "UTC", "USD")
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", ANN)
    with tenant_session(engine, other.id) as s:
        vault.upsert_pii(s, other.id, "cust-1", {"email": "ann.lee@example.com"})
        assert vault.get_pii(s, other.id, "cust-1") == {"email": "ann.lee@example.com"}
        assert vault.find_customer_ids(s, other.id, email="ann.lee@example.com") == ["cust-1"]
    # Blind indexes are keyed per tenant: the same address does not link the two tenants' rows.
    with system_session(engine, "test compares tenants' blind indexes") as s:
        indexes = set(s.scalars(select(CustomerPII.email_bidx)))
    assert len(indexes) == 2
    # A ciphertext copied into another tenant's row does not decrypt there.
    with system_session(engine, "test moves a ciphertext across tenants") as s:
        mine = s.scalars(select(CustomerPII).where(CustomerPII.tenant_id == tenant.id)).one()
        theirs = s.scalars(select(CustomerPII).where(CustomerPII.tenant_id == other.id)).one()
        theirs.email_ct = mine.email_ct
    with tenant_session(engine, other.id) as s, pytest.raises(kr.KeyringError, match="does not authenticate"):
        vault.get_pii(s, other.id, "cust-1")


def test_erase(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", ANN)
        assert vault.blind_indexes(s, tenant.id, "cust-1") is not None
    with tenant_session(engine, tenant.id) as s:
        assert vault.erase_pii(s, tenant.id, "cust-1") is True
        assert vault.erase_pii(s, tenant.id, "cust-1") is False
    with tenant_session(engine, tenant.id) as s:
        assert vault.get_pii(s, tenant.id, "cust-1") is None
        assert vault.find_customer_ids(s, tenant.id, email=ANN["email"]) == []


def test_invalid_input(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        with pytest.raises(ValidationFailed, match="unknown PII field"):
            vault.upsert_pii(s, tenant.id, "cust-1", {"shoe_size": "42"})
        with pytest.raises(ValidationFailed, match="customer id"):
            vault.upsert_pii(s, tenant.id, "", {"email": "a@b.c"})
        with pytest.raises(ValidationFailed, match="limit is 2000"):
            vault.upsert_pii(s, tenant.id, "cust-1", {"name": "x" * 2001})


def test_sqlite_zeroes_erased_rows(engine: Engine, tenant: TenantInfo) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("secure_delete is a SQLite pragma; PostgreSQL reclaims dead tuples with VACUUM")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
    email_bidx = kr.keyring(engine).blind_index(tenant.id, "email", ANN["email"])
    assert email_bidx is not None
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-erased-1", ANN)
    with tenant_session(engine, tenant.id) as s:
        vault.erase_pii(s, tenant.id, "cust-erased-1")
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    path = engine.url.database
    assert path is not None
    with open(path, "rb") as fh:
        content = fh.read()
    assert email_bidx.encode() not in content
    assert b"cust-erased-1" not in content


@pytest.mark.parametrize(
    ("field", "value", "masked"),
    [
        ("email", "alice@example.com", "a***@example.com"),
        ("phone", "13812345678", "138****5678"),
        ("phone", "+86 138 1234 5678", "+861****5678"),
        ("phone", "12345", "****45"),
        ("name", "张三", "张*"),
        ("first_name", "Alice", "A****"),
        ("address", '{"city":"上海"}', "***"),
        ("birthday", "1990-01-02", "***"),
        ("email", "not-an-email", "n***********"),
    ],
)
def test_mask(field: str, value: str, masked: str) -> None:
    assert vault.mask(field, value) == masked


def test_rotations_keep_the_vault_readable(engine: Engine, tenant: TenantInfo) -> None:
    """Data-key rotation (+ re-encryption) and master rotation, checked before and after on both backends."""
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", ANN)
    assert kr.rotate_data_key(engine, tenant.id) == 2
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-2", {"email": "second@example.com"})
        assert vault.stale_rows(s, tenant.id) == {1: 4, 2: 1}
        assert vault.get_pii(s, tenant.id, "cust-1") == ANN
    rotation = kr.rotate_master(engine)
    assert rotation.mode == "file" and rotation.result.tenant_ids == [tenant.id]
    assert rotation.result.tenant_keys == 4  # data v1, data v2, index, pseudonym
    kr._KEYRINGS.clear()
    kr._MASTERS.clear()
    kr._RECENT.clear()
    with tenant_session(engine, tenant.id) as s:
        assert vault.get_pii(s, tenant.id, "cust-1") == ANN
        assert vault.reencrypt_tenant(s, tenant.id) == 1
    with tenant_session(engine, tenant.id) as s:
        assert vault.stale_rows(s, tenant.id) == {2: 5}
        assert vault.get_pii(s, tenant.id, "cust-1") == ANN
        assert vault.get_pii(s, tenant.id, "cust-2") == {"email": "second@example.com"}
        assert vault.find_customer_ids(s, tenant.id, phone="+8613812345678") == ["cust-1"]


def test_a_lookup_on_a_tenant_without_keys_creates_none(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        assert vault.find_customer_ids(s, tenant.id, email="a@b.c") == []
        assert vault.get_pii(s, tenant.id, "cust-1") is None
    assert kr.tenant_key_versions(engine, [tenant.id]) == []


def test_upsert_many_matches_one_by_one_semantics(engine: Engine, tenant: TenantInfo) -> None:
    """The loader's batched write: changes overwrite per field, fills only fill what is empty (stored or
    changed in the same call), blanks clear, and every customer is found in one query per chunk."""
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "cust-1", {"email": "old@example.com", "name": "Ann"})
    with tenant_session(engine, tenant.id) as s:
        written = vault.upsert_many(
            s,
            tenant.id,
            {"cust-1": {"name": "Ann Lee", "address": ""}, "cust-2": {"phone": "+86 139 0000 0001"}},
            {
                "cust-1": {"email": "fill@example.com", "phone": "+86 138 0000 0000"},
                "cust-2": {"phone": "+86 100", "email": "two@example.com"},
                "cust-3": {"email": "three@example.com"},
            },
            chunk=2,
        )
        assert written == 3
    with tenant_session(engine, tenant.id) as s:
        assert vault.get_pii(s, tenant.id, "cust-1") == {
            "name": "Ann Lee",
            "email": "old@example.com",
            "phone": "+86 138 0000 0000",
        }
        assert vault.get_pii(s, tenant.id, "cust-2") == {
            "phone": "+86 139 0000 0001",
            "email": "two@example.com",
        }
        assert vault.get_pii(s, tenant.id, "cust-3") == {"email": "three@example.com"}
        assert vault.find_customer_ids(s, tenant.id, phone="+86 138 0000 0000") == ["cust-1"]
        with pytest.raises(ValidationFailed):
            vault.upsert_many(s, tenant.id, {"cust-4": {"shoe_size": "42"}})
    with tenant_session(engine, tenant.id) as s:
        assert vault.upsert_many(s, tenant.id, {}, {"cust-1": {"email": "again@example.com"}}) == 0
