"""The chain verifies, and each kind of tampering (done with raw SQL) is pinpointed at its seq."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from ecomops.audit import service
from ecomops.platform import audit as recording
from ecomops.platform.store.scoping import system_connection
from ecomops.tenancy import service as tenancy

N = 6


@pytest.fixture
def chain(store_engine: Engine) -> str:
    tenant = tenancy.create_tenant(store_engine, "acme")  # seq 1: tenant.create
    for i in range(2, N + 1):
        recording.record(store_engine, tenant.id, "tester", "thing.update", "thing", f"t{i}", after={"n": i})
    return tenant.id


def _sql(engine: Engine, sql: str, **params: Any) -> None:
    """Tamper as someone with write access to the store: with RLS bypassed on PostgreSQL."""
    with system_connection(engine, "test: tampering with the audit log") as conn:
        conn.execute(text(sql), params)


def test_intact_chain_verifies(store_engine: Engine, chain: str) -> None:
    result = service.verify(store_engine, chain)
    assert (result.ok, result.checked, result.first_broken_seq, result.last_seq) == (True, N, None, N)
    records = service.export(store_engine, chain)
    assert [r["seq"] for r in records] == list(range(1, N + 1))
    assert records[0]["prev_hash"] == recording.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    assert result.head_hash == records[-1]["hash"]
    assert records[1]["after_digest"] == recording.digest({"n": 2})


def test_edited_field_is_found(store_engine: Engine, chain: str) -> None:
    _sql(
        store_engine, "UPDATE audit_log SET actor = 'someone-else' WHERE tenant_id = :t AND seq = 4", t=chain
    )
    result = service.verify(store_engine, chain)
    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "content" in (result.reason or "")


def test_deleted_middle_row_is_found(store_engine: Engine, chain: str) -> None:
    _sql(store_engine, "DELETE FROM audit_log WHERE tenant_id = :t AND seq = 3", t=chain)
    result = service.verify(store_engine, chain)
    assert (result.ok, result.first_broken_seq) == (False, 3)
    assert "missing" in (result.reason or "")


def test_deleted_and_renumbered_rows_are_found(store_engine: Engine, chain: str) -> None:
    _sql(store_engine, "DELETE FROM audit_log WHERE tenant_id = :t AND seq = 3", t=chain)
    for seq in range(4, N + 1):
        _sql(
            store_engine,
            "UPDATE audit_log SET seq = :n WHERE tenant_id = :t AND seq = :s",
            t=chain,
            s=seq,
            n=seq - 1,
        )
    result = service.verify(store_engine, chain)
    assert (result.ok, result.first_broken_seq) == (False, 3)


def test_inserted_forged_row_is_found(store_engine: Engine, chain: str) -> None:
    head = service.export(store_engine, chain)[-1]
    _sql(
        store_engine,
        "INSERT INTO audit_log (id, tenant_id, seq, at, actor, action, target_type, target_id, details, "
        "prev_hash, hash) VALUES ('aud_forged', :t, :seq, :at, 'mallory', 'apikey.create', 'api_key', 'k', "
        "'{}', :prev, :hash)",
        t=chain,
        seq=N + 1,
        at=head["at"],
        prev=head["hash"],
        hash="f" * 64,
    )
    result = service.verify(store_engine, chain)
    assert (result.ok, result.first_broken_seq) == (False, N + 1)


def test_reordered_rows_are_found(store_engine: Engine, chain: str) -> None:
    swap = "UPDATE audit_log SET seq = :new WHERE tenant_id = :t AND seq = :old"
    _sql(store_engine, swap, t=chain, old=2, new=-1)
    _sql(store_engine, swap, t=chain, old=5, new=2)
    _sql(store_engine, swap, t=chain, old=-1, new=5)
    result = service.verify(store_engine, chain)
    assert (result.ok, result.first_broken_seq) == (False, 2)


def test_other_key_does_not_verify(store_engine: Engine, chain: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ecomops.platform.settings import get_settings

    monkeypatch.setenv("ECOMOPS_MASTER_KEY", "a different secret")
    get_settings.cache_clear()
    result = service.verify(store_engine, chain)
    assert (result.ok, result.first_broken_seq) == (False, 1)


def test_key_file_is_private(store_engine: Engine, chain: str, settings: Any) -> None:
    path = settings.resolved_data_dir / "keys" / "audit.key"
    assert path.stat().st_mode & 0o777 == 0o600


def test_concurrent_appends_make_a_gap_free_chain(store_engine: Engine) -> None:
    tenant = tenancy.create_tenant(store_engine, "busy")
    per_thread, threads = 10, 8
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                recording.record(store_engine, tenant.id, f"w{n}", "thing.update", "thing", f"{n}-{i}")
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    result = service.verify(store_engine, tenant.id)
    assert (result.ok, result.checked) == (True, 1 + per_thread * threads)


def test_export_filters(store_engine: Engine, chain: str) -> None:
    assert [r["seq"] for r in service.export(store_engine, chain, action="tenant.create")] == [1]
    assert len(service.export(store_engine, chain, action="thing.*")) == N - 1
    first = service.export(store_engine, chain)[0]
    at = datetime.fromisoformat(first["at"])
    assert service.export(store_engine, chain, until=at) == []
    assert len(service.export(store_engine, chain, since=at)) == N
    newest = service.export(store_engine, chain, limit=2, newest_first=True)
    assert [r["seq"] for r in newest] == [N, N - 1]
