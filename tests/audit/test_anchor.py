"""Anchors detect what the chain alone cannot (deleting the newest records), on SQLite and PostgreSQL;
member, API-key and user changes record digests of the state before and after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from ecomops.audit import anchor as anchors
from ecomops.audit import service
from ecomops.cli import app
from ecomops.kernel.errors import Conflict, ValidationFailed
from ecomops.platform import audit as recording
from ecomops.platform import tenants
from ecomops.platform.settings import get_settings
from ecomops.platform.store.scoping import tenant_connection
from ecomops.security import accounts
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

PASSWORD = "correct horse battery staple 42"


def grow(engine: Engine, slug: str, n: int) -> None:
    """Append ``n`` real records (source creations) to the tenant's chain."""
    for i in range(n):
        tenancy.create_source(
            engine, slug, f"site-{i}-{len(service.export(engine, _id(engine, slug)))}", "web"
        )


def _id(engine: Engine, slug: str) -> str:
    return tenants.get_tenant(engine, slug).id


def delete_from(engine: Engine, tenant_id: str, seq: int) -> None:
    """What an attacker with database access does: drop the newest records from ``seq`` on."""
    with tenant_connection(engine, tenant_id) as conn:
        conn.execute(
            text("DELETE FROM audit_log WHERE tenant_id = :t AND seq >= :seq"), {"t": tenant_id, "seq": seq}
        )


@pytest.fixture
def acme(store_engine: Engine) -> str:
    tenant = tenancy.create_tenant(store_engine, "acme")
    grow(store_engine, "acme", 4)  # seq 1..5
    return tenant.id


def test_anchor_of_an_intact_chain_verifies_and_round_trips(store_engine: Engine, acme: str) -> None:
    made = anchors.make_anchor(store_engine, acme)
    assert made.seq == 5 and made.hash == service.verify(store_engine, acme).head_hash
    text_form = made.encode()
    assert text_form.startswith("ecomops-audit-anchor/v1;tenant=") and len(text_form) <= anchors.MAX_LENGTH
    assert anchors.parse_anchor(text_form + "\n") == made
    grow(store_engine, "acme", 2)  # the log goes on after the anchor: still fine
    result = anchors.verify_with_anchor(store_engine, acme, anchors.parse_anchor(text_form))
    assert result.ok and result.last_seq == 7 and result.reason is None


def test_truncation_is_caught_only_with_the_anchor(store_engine: Engine, acme: str) -> None:
    made = anchors.make_anchor(store_engine, acme)
    delete_from(store_engine, acme, 4)  # seq 4 and 5 gone
    assert service.verify(store_engine, acme).ok  # the chain alone cannot tell
    result = anchors.verify_with_anchor(store_engine, acme, made)
    assert not result.ok
    assert result.first_broken_seq == 4 and result.last_seq == 3
    assert "ends at seq 3" in (result.reason or "") and "records 4..5 were removed" in (result.reason or "")


def test_truncated_then_regrown_log_is_caught_at_the_anchored_seq(store_engine: Engine, acme: str) -> None:
    made = anchors.make_anchor(store_engine, acme)
    delete_from(store_engine, acme, 3)
    grow(store_engine, "acme", 5)  # seq 3..7 again, with other content
    assert service.verify(store_engine, acme).ok
    result = anchors.verify_with_anchor(store_engine, acme, made)
    assert not result.ok and result.first_broken_seq == 5
    assert "record seq 5 differs from the anchor" in (result.reason or "")


def test_forged_or_foreign_anchors_fail(store_engine: Engine, acme: str) -> None:
    made = anchors.make_anchor(store_engine, acme)
    delete_from(store_engine, acme, 5)
    head = service.verify(store_engine, acme)
    # The attacker rewrites the anchor to the new head but cannot sign it.
    forged = (
        made.encode()
        .replace(f"seq={made.seq}", f"seq={head.last_seq}")
        .replace(made.hash, head.head_hash or "")
    )
    result = anchors.verify_with_anchor(store_engine, acme, anchors.parse_anchor(forged))
    assert not result.ok and result.first_broken_seq is None
    assert "signature does not verify" in (result.reason or "")
    other = tenancy.create_tenant(store_engine, "other")
    with pytest.raises(ValidationFailed, match="belongs to tenant id"):
        anchors.verify_with_anchor(store_engine, other.id, made)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ("nonsense", "anchor"),
        (
            "ecomops-audit-anchor/v1;tenant=t;seq=0;hash="
            + "a" * 64
            + ";at=2026-11-25T00:00:00+00:00;mac="
            + "b" * 64,
            "anchor.seq",
        ),
        (
            "ecomops-audit-anchor/v1;tenant=t;seq=1;hash=xyz;at=2026-11-25T00:00:00+00:00;mac=" + "b" * 64,
            "anchor.hash",
        ),
        (
            "ecomops-audit-anchor/v1;tenant=t;seq=1;hash=" + "a" * 64 + ";at=yesterday;mac=" + "b" * 64,
            "anchor.at",
        ),
        ("ecomops-audit-anchor/v1;tenant=t;seq=1;hash=" + "a" * 64 + ";mac=" + "b" * 64, "anchor"),
        (
            "ecomops-audit-anchor/v1;tenant=t;seq=\u00b2;hash="
            + "a" * 64
            + ";at=2026-11-25T00:00:00+00:00;mac="
            + "b" * 64,
            "anchor.seq",
        ),
        ("ecomops-audit-anchor/v1;tenant=t;seq=1;evil=1", "anchor"),
        ("ecomops-audit-anchor/v1;" + "x" * 500, "anchor"),
    ],
)
def test_malformed_anchors_name_the_field(bad: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        anchors.parse_anchor(bad)
    assert caught.value.details["field"] == field


def test_a_broken_chain_is_not_anchored(store_engine: Engine, acme: str) -> None:
    with tenant_connection(store_engine, acme) as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'mallory' WHERE tenant_id = :t AND seq = 2"), {"t": acme}
        )
    with pytest.raises(Conflict, match="broken at seq 2"):
        anchors.make_anchor(store_engine, acme)


@pytest.fixture
def cli(store_url: str, store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_anchor_then_verify_with_file_and_string(
    cli: CliRunner, store_engine: Engine, acme: str, tmp_path: Path
) -> None:
    target = tmp_path / "acme.anchor"
    made = cli.invoke(
        app, ["audit", "anchor", "--tenant", "acme", "--output", str(target)], catch_exceptions=False
    )
    assert made.exit_code == 0, made.output
    printed = made.stdout.strip()
    assert printed.startswith(anchors.PREFIX) and target.read_text().strip() == printed
    for given in (str(target), printed):
        ok = cli.invoke(
            app, ["audit", "verify", "--tenant", "acme", "--anchor", given], catch_exceptions=False
        )
        assert ok.exit_code == 0, ok.output
        assert "still holds seq 5" in ok.stdout
    as_json = cli.invoke(app, ["audit", "anchor", "--tenant", "acme", "--json"], catch_exceptions=False)
    assert json.loads(as_json.stdout)["seq"] == 5

    delete_from(store_engine, acme, 5)
    assert cli.invoke(app, ["audit", "verify", "--tenant", "acme"]).exit_code == 0  # chain alone: fine
    cut = cli.invoke(app, ["audit", "verify", "--tenant", "acme", "--anchor", str(target)])
    assert cut.exit_code == 1
    assert "broken at seq 5" in " ".join(cut.output.split())
    cut_json = cli.invoke(app, ["audit", "verify", "--tenant", "acme", "--anchor", printed, "--json"])
    assert cut_json.exit_code == 1 and json.loads(cut_json.stdout)["first_broken_seq"] == 5

    missing = cli.invoke(app, ["audit", "verify", "--tenant", "acme", "--anchor", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "neither an anchor string" in " ".join(missing.output.split())


def test_api_anchor_and_verify_with_anchor(server: InProcServer, engine: Engine) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "admin")
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    ) as c:
        made = c.get("/audit/anchor")
        assert made.status_code == 200, made.text
        body = made.json()
        assert body["seq"] == service.verify(engine, server.tenant.id).last_seq
        ok = c.get("/audit/verify", params={"anchor": body["anchor"]})
        assert ok.status_code == 200 and ok.json()["ok"] is True
        delete_from(engine, server.tenant.id, body["seq"])
        cut = c.get("/audit/verify", params={"anchor": body["anchor"]})
        assert cut.status_code == 200
        assert cut.json()["ok"] is False and cut.json()["first_broken_seq"] == body["seq"]
        assert c.get("/audit/verify").json()["ok"] is True
        bad = c.get("/audit/verify", params={"anchor": "not an anchor"})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "anchor"


def _last(engine: Engine, tenant_id: str, action: str) -> dict[str, object]:
    return service.export(engine, tenant_id, action=action)[-1]


def test_access_changes_record_before_and_after_digests(store_engine: Engine, acme: str) -> None:
    accounts.create_user(store_engine, "ann@shop.example", PASSWORD)
    accounts.create_user(store_engine, "bob@shop.example", PASSWORD)
    accounts.add_member(store_engine, "acme", "ann@shop.example", "owner")
    bob = accounts.add_member(store_engine, "acme", "bob@shop.example", "analyst")

    accounts.set_role(store_engine, "acme", "bob@shop.example", "admin")
    role = _last(store_engine, acme, "member.role")
    assert role["before_digest"] == recording.digest({"email": "bob@shop.example", "role": "analyst"})
    assert role["after_digest"] == recording.digest({"email": "bob@shop.example", "role": "admin"})

    accounts.remove_member(store_engine, "acme", "bob@shop.example")
    removed = _last(store_engine, acme, "member.remove")
    assert removed["target_id"] == bob.user_id
    assert removed["before_digest"] == recording.digest({"email": "bob@shop.example", "role": "admin"})
    assert removed["after_digest"] == recording.digest({"email": "bob@shop.example", "role": None})

    info, _ = tenancy.create_api_key(store_engine, "acme", "viewer", "dash")
    tenancy.revoke_api_key(store_engine, "acme", info.id)
    revoked = _last(store_engine, acme, "apikey.revoke")
    listing = next(k for k in tenancy.list_api_keys(store_engine, "acme") if k.id == info.id)
    state = {"name": "dash", "role": "viewer", "key_prefix": info.key_prefix}
    assert revoked["before_digest"] == recording.digest({**state, "revoked_at": None})
    assert revoked["after_digest"] == recording.digest({**state, "revoked_at": listing.revoked_at})
    assert revoked["before_digest"] != revoked["after_digest"]

    accounts.disable_user(store_engine, "ann@shop.example")
    disabled = _last(store_engine, acme, "user.disable")
    assert disabled["before_digest"] == recording.digest({"email": "ann@shop.example", "status": "active"})
    assert disabled["after_digest"] == recording.digest({"email": "ann@shop.example", "status": "disabled"})
    assert service.verify(store_engine, acme).ok
