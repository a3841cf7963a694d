"""Envelope encryption: round trips, AAD binding, tamper detection, rotation, blind indexes, caching."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, update
from typer.testing import CliRunner

from ecomops.audit.service import export
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto import keyring as kr
from ecomops.platform.crypto.pseudonym import file_keys, pseudonymize_email
from ecomops.platform.settings import get_settings
from ecomops.platform.store.models import TenantKey
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.privacy import vault
from ecomops.privacy.cli.keys import keys_app
from ecomops.tenancy import service as tenancy

runner = CliRunner()


def _flip(blob: bytes, index: int) -> bytes:
    return blob[:index] + bytes([blob[index] ^ 1]) + blob[index + 1 :]


def _fresh_process() -> None:
    """Forget every cached key and master, as a new process would."""
    kr._KEYRINGS.clear()
    kr._MASTERS.clear()
    kr._RECENT.clear()


def test_system_seal_round_trip_and_context_binding(engine: Engine, data_dir: Path) -> None:
    blob = kr.seal_system(engine, b"JBSWY3DPEHPK3PXP", "totp:usr_1")
    assert b"JBSWY3DPEHPK3PXP" not in blob
    assert kr.unseal_system(engine, blob, "totp:usr_1") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(kr.KeyringError, match="does not authenticate"):
        kr.unseal_system(engine, blob, "totp:usr_2")
    with pytest.raises(kr.KeyringError):
        kr.unseal_system(engine, _flip(blob, len(blob) - 1), "totp:usr_1")
    _fresh_process()
    assert kr.unseal_system(engine, blob, "totp:usr_1") == b"JBSWY3DPEHPK3PXP"
    key_file = data_dir / "keys" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32


def test_field_round_trip_and_aad_binding(engine: Engine, tenant: TenantInfo) -> None:
    other = tenancy.create_tenant(engine, "other", "Other", "UTC", "USD")
    with pytest.raises(kr.KeyringError, match="has no data key with version 1"):
        kr.decrypt_field(
            engine, other.id, "email", "c1", kr.encrypt_field(engine, tenant.id, "email", "c1", "x")
        )
    kr.encrypt_field(
        engine, other.id, "email", "c1", "other@example.com"
    )  # the other tenant's keys now exist
    blob = kr.encrypt_field(engine, tenant.id, "email", "c1", "ann@example.com")
    assert b"ann@example.com" not in blob
    assert kr.decrypt_field(engine, tenant.id, "email", "c1", blob) == "ann@example.com"
    for tenant_id, field, record in (
        (other.id, "email", "c1"),  # another tenant (another key, another AAD)
        (tenant.id, "phone", "c1"),  # another field
        (tenant.id, "email", "c2"),  # another row
    ):
        with pytest.raises(kr.KeyringError, match="does not authenticate"):
            kr.decrypt_field(engine, tenant_id, field, record, blob)


def test_tampering_is_detected(engine: Engine, tenant: TenantInfo) -> None:
    blob = kr.encrypt_field(engine, tenant.id, "name", "c1", "张三")
    for index in (6, 20, len(blob) - 1):  # nonce, ciphertext, tag
        with pytest.raises(kr.KeyringError):
            kr.decrypt_field(engine, tenant.id, "name", "c1", _flip(blob, index))
    relabelled = blob[:1] + (2).to_bytes(4, "big") + blob[5:]  # claims a key version that does not exist
    with pytest.raises(kr.KeyringError, match="no data key with version 2"):
        kr.decrypt_field(engine, tenant.id, "name", "c1", relabelled)
    with pytest.raises(kr.KeyringError, match="too short"):
        kr.decrypt_field(engine, tenant.id, "name", "c1", blob[:20])


def test_a_wrapped_key_moved_to_another_tenant_does_not_unwrap(engine: Engine, tenant: TenantInfo) -> None:
    other = tenancy.create_tenant(engine, "other", "Other", "UTC", "USD")
    kr.encrypt_field(engine, tenant.id, "email", "c1", "x@y.z")
    kr.encrypt_field(engine, other.id, "email", "c1", "x@y.z")
    with system_session(engine, "test copies a wrapped key across tenants") as s:
        mine = s.scalars(
            select(TenantKey).where(TenantKey.tenant_id == tenant.id, TenantKey.purpose == "data")
        ).one()
        s.execute(
            update(TenantKey)
            .where(TenantKey.tenant_id == other.id, TenantKey.purpose == "data")
            .values(wrapped_key=mine.wrapped_key)
        )
    _fresh_process()
    with pytest.raises(kr.KeyringError, match="altered or moved"):
        kr.encrypt_field(engine, other.id, "email", "c1", "x@y.z")


def test_blind_index_normalises_and_separates_tenants(engine: Engine, tenant: TenantInfo) -> None:
    other = tenancy.create_tenant(engine, "other", "Other", "UTC", "USD")
    ring = kr.keyring(engine)
    assert ring.blind_index(tenant.id, "email", " Ann@Example.COM ") == ring.blind_index(
        tenant.id, "email", "ann@example.com"
    )
    assert ring.blind_index(tenant.id, "phone", "+86 138-1234-5678") == ring.blind_index(
        tenant.id, "phone", "008613812345678"
    )
    assert ring.blind_index(tenant.id, "phone", "13812345678") != ring.blind_index(
        tenant.id, "phone", "+8613812345678"
    )
    assert ring.blind_index(tenant.id, "email", "a@b.c") != ring.blind_index(other.id, "email", "a@b.c")
    assert ring.blind_index(tenant.id, "phone", " - ") is None
    assert ring.blind_index(tenant.id, "email", "a@b.c") != ring.blind_index(tenant.id, "phone", "a@b.c")


def test_unwrapped_keys_are_cached_per_process(engine: Engine, tenant: TenantInfo) -> None:
    kr.encrypt_field(engine, tenant.id, "email", "c0", "warm@example.com")  # loads the data key once
    kr.keyring(engine).blind_index(tenant.id, "email", "warm@example.com")  # and the index key
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    try:
        for i in range(200):
            blob = kr.encrypt_field(engine, tenant.id, "email", f"c{i}", f"u{i}@example.com")
            kr.decrypt_field(engine, tenant.id, "email", f"c{i}", blob)
            kr.keyring(engine).blind_index(tenant.id, "email", f"u{i}@example.com")
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    assert statements == []


def test_data_key_rotation_keeps_old_ciphertexts_readable(engine: Engine, tenant: TenantInfo) -> None:
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "c1", {"email": "old@example.com", "phone": "13812345678"})
    before = kr.encrypt_field(engine, tenant.id, "email", "x", "before@example.com")
    assert kr.blob_version(before) == 1
    index_before = kr.keyring(engine).blind_index(tenant.id, "email", "old@example.com")

    result = runner.invoke(keys_app, ["rotate", "--tenant", tenant.slug, "--json"])
    assert result.exit_code == 0, result.output
    after = kr.encrypt_field(engine, tenant.id, "email", "x", "after@example.com")
    assert kr.blob_version(after) == 2
    _fresh_process()
    assert kr.decrypt_field(engine, tenant.id, "email", "x", before) == "before@example.com"
    assert kr.decrypt_field(engine, tenant.id, "email", "x", after) == "after@example.com"
    # Blind indexes do not depend on the data key: lookups keep working across the rotation.
    assert kr.keyring(engine).blind_index(tenant.id, "email", "old@example.com") == index_before
    with tenant_session(engine, tenant.id) as s:
        assert vault.stale_rows(s, tenant.id) == {1: 2}
        assert vault.get_pii(s, tenant.id, "c1") == {"email": "old@example.com", "phone": "13812345678"}

    result = runner.invoke(keys_app, ["rotate", "--tenant", tenant.slug, "--reencrypt", "--json"])
    assert result.exit_code == 0, result.output
    assert '"reencrypted_rows": 1' in result.output
    with tenant_session(engine, tenant.id) as s:
        assert vault.stale_rows(s, tenant.id) == {3: 2}
        assert vault.find_customer_ids(s, tenant.id, email="OLD@example.com") == ["c1"]
        assert vault.get_pii(s, tenant.id, "c1") == {"email": "old@example.com", "phone": "13812345678"}
    rotations = [r for r in export(engine, tenant.id) if r["action"] == "keys.rotate"]
    assert [r["details"]["new_version"] for r in rotations] == [2, 3]


def test_master_rotation_with_key_file(engine: Engine, tenant: TenantInfo, data_dir: Path) -> None:
    blob = kr.encrypt_field(engine, tenant.id, "email", "c1", "ann@example.com")
    sealed = kr.seal_system(engine, b"totp-secret", "totp:usr_1")
    old_master = (data_dir / "keys" / "master.key").read_bytes()
    old_kek = kr.MasterKey(old_master).kek_id

    result = runner.invoke(keys_app, ["rotate", "--master", "--json"])
    assert result.exit_code == 0, result.output
    new_master = (data_dir / "keys" / "master.key").read_bytes()
    assert new_master != old_master and len(new_master) == 32
    assert not (data_dir / "keys" / kr.NEXT_MASTER_FILE).exists()
    _fresh_process()
    assert kr.decrypt_field(engine, tenant.id, "email", "c1", blob) == "ann@example.com"
    assert kr.unseal_system(engine, sealed, "totp:usr_1") == b"totp-secret"
    with system_session(engine, "test reads key fingerprints") as s:
        assert set(s.scalars(select(TenantKey.kek_id))) == {kr.MasterKey(new_master).kek_id}
    records = [r for r in export(engine, tenant.id) if r["action"] == "keys.rotate"]
    assert records[-1]["details"]["old_kek_ids"] == [old_kek]

    # The old master alone can no longer open anything: the message names both fingerprints.
    (data_dir / "keys" / "master.key").write_bytes(old_master)
    _fresh_process()
    with pytest.raises(kr.KeyringError, match=f"wrapped under master {kr.MasterKey(new_master).kek_id}"):
        kr.decrypt_field(engine, tenant.id, "email", "c1", blob)


def test_master_rotation_with_environment_secret(
    engine: Engine, tenant: TenantInfo, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOMOPS_MASTER_KEY", "old secret that is long enough to matter")
    get_settings.cache_clear()
    _fresh_process()
    blob = kr.encrypt_field(engine, tenant.id, "phone", "c1", "13812345678")
    assert not (data_dir / "keys" / "master.key").exists()

    refused = runner.invoke(keys_app, ["rotate", "--master"])
    assert refused.exit_code == 1 and "--new-master-key-file" in refused.output

    new_file = data_dir / "new-master.txt"
    new_file.write_text("new secret from the vault of the operator\n")
    os.chmod(new_file, 0o600)
    result = runner.invoke(keys_app, ["rotate", "--new-master-key-file", str(new_file)])
    assert result.exit_code == 0, result.output
    assert "set it to the new secret and restart" in result.output.replace("\n", " ")

    _fresh_process()  # still the old secret: keys are now wrapped under the new one
    with pytest.raises(kr.KeyringError, match="wrapped under master"):
        kr.decrypt_field(engine, tenant.id, "phone", "c1", blob)
    monkeypatch.setenv("ECOMOPS_MASTER_KEY", "new secret from the vault of the operator")
    get_settings.cache_clear()
    _fresh_process()
    assert kr.decrypt_field(engine, tenant.id, "phone", "c1", blob) == "13812345678"


def test_rotate_refuses_ambiguous_options(engine: Engine, tenant: TenantInfo) -> None:
    for args in ([], ["--tenant", tenant.slug, "--master"], ["--master", "--reencrypt"]):
        result = runner.invoke(keys_app, ["rotate", *args])
        assert result.exit_code == 1, (args, result.output)
    kr.seal_system(engine, b"s", "totp:usr_1")
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(s, tenant.id, "c1", {"email": "a@b.c", "name": "A"})
    status = runner.invoke(keys_app, ["status", "--tenant", tenant.slug, "--json"])
    assert status.exit_code == 0, status.output
    out = json.loads(status.output)
    assert out["master"]["kek_id"] == kr.load_masters()[0].kek_id and out["master"]["source"] == "key file"
    keys = {(k["purpose"], k["version"]): k["vault_fields"] for k in out["keys"]}
    assert keys == {("data", 1): 2, ("index", 1): None, ("pseudonym", 1): None}
    assert [(k["purpose"], k["version"]) for k in out["system_keys"]] == [("seal", 1)]
    assert "wrapped_key" not in status.output


def test_pseudonym_key_adopts_the_legacy_key_file(engine: Engine, tenant: TenantInfo, data_dir: Path) -> None:
    """Pseudonyms issued by importers before the keyring existed stay the same after the upgrade."""
    other = tenancy.create_tenant(engine, "other", "Other", "UTC", "USD")
    legacy = file_keys(data_dir).key_for(tenant.id)
    assert kr.KeyringPseudonymKeys(engine).key_for(tenant.id) == legacy
    assert pseudonymize_email(kr.keyring(engine).pseudonym_key(tenant.id), "A@x.io") == pseudonymize_email(
        legacy, "a@x.io"
    )
    fresh = kr.keyring(engine).pseudonym_key(other.id)  # no legacy file: a new random key
    assert len(fresh) == 32 and fresh != legacy
    assert not (data_dir / "keys" / "pseudonym" / f"{other.id}.key").exists()
