"""Accounts service (SQLite and PostgreSQL), password policy, last-owner rule, CLI and key revocation."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit import service as audit
from ecomops.cli import app
from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.platform import tenants
from ecomops.platform.settings import get_settings
from ecomops.security import accounts, invitations
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer

GOOD = "correct-staple-9-horse"


def test_password_policy() -> None:
    with pytest.raises(ValidationFailed, match="at least 12"):
        accounts.check_password_policy("short1!")
    for common in ("password1234", "QWERTY123456", "iloveyou2025"):
        with pytest.raises(ValidationFailed, match="too common"):
            accounts.check_password_policy(common)
    assert len(accounts.common_passwords()) >= 300
    accounts.check_password_policy(GOOD)


def test_users_hash_verify_disable(store_engine: Engine) -> None:
    user = accounts.create_user(store_engine, "  Ann@Shop.Example ", GOOD)
    assert user.email == "ann@shop.example" and user.status == "active"
    with pytest.raises(Conflict):
        accounts.create_user(store_engine, "ANN@shop.example", GOOD)
    assert accounts.verify_password(store_engine, "ann@SHOP.example", GOOD) == user
    assert accounts.verify_password(store_engine, "ann@shop.example", GOOD + "x") is None
    assert accounts.verify_password(store_engine, "nobody@shop.example", GOOD) is None
    assert [u.email for u in accounts.list_users(store_engine)] == ["ann@shop.example"]
    assert accounts.disable_user(store_engine, "ann@shop.example").status == "disabled"
    assert accounts.verify_password(store_engine, "ann@shop.example", GOOD) is None


def test_memberships_last_owner_and_audit(store_engine: Engine) -> None:
    t = tenancy.create_tenant(store_engine, "acme")
    accounts.create_user(store_engine, "ann@shop.example", GOOD)
    accounts.create_user(store_engine, "bob@shop.example", GOOD)
    accounts.add_member(store_engine, "acme", "ann@shop.example", "owner")
    with pytest.raises(Conflict):
        accounts.add_member(store_engine, "acme", "ann@shop.example", "viewer")
    with pytest.raises(ValidationFailed):
        accounts.add_member(store_engine, "acme", "bob@shop.example", "root")
    accounts.add_member(store_engine, "acme", "bob@shop.example", "analyst")

    with pytest.raises(Conflict, match="last owner"):
        accounts.set_role(store_engine, "acme", "ann@shop.example", "admin")
    with pytest.raises(Conflict, match="last owner"):
        accounts.remove_member(store_engine, "acme", "ann@shop.example")

    accounts.set_role(store_engine, "acme", "bob@shop.example", "owner")
    accounts.set_role(store_engine, "acme", "ann@shop.example", "admin")  # bob is owner now
    accounts.remove_member(store_engine, "acme", "ann@shop.example")
    with pytest.raises(NotFound):
        accounts.remove_member(store_engine, "acme", "ann@shop.example")
    assert [(m.email, m.role) for m in accounts.list_members(store_engine, "acme")] == [
        ("bob@shop.example", "owner")
    ]
    accounts.disable_user(store_engine, "bob@shop.example")

    actions = [e["action"] for e in audit.export(store_engine, t.id)]
    assert actions == [
        "tenant.create",
        "member.add",
        "member.add",
        "member.role",
        "member.role",
        "member.remove",
        "user.disable",
    ]
    assert audit.verify(store_engine, t.id).ok


@pytest.fixture
def cli(store_url: str, store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _ok(cli: CliRunner, *args: str, stdin: str | None = None) -> str:
    result = cli.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_users_members_and_keys(cli: CliRunner, store_engine: Engine) -> None:
    tenancy.create_tenant(store_engine, "acme")
    created = json.loads(_ok(cli, "user", "create", "ann@shop.example", "--json"))
    assert accounts.verify_password(store_engine, "ann@shop.example", created["password"]) is not None
    _ok(cli, "user", "create", "bob@shop.example", "--password-stdin", stdin=GOOD + "\n")
    weak = cli.invoke(app, ["user", "create", "eve@shop.example", "--password-stdin"], input="password\n")
    assert weak.exit_code == 1 and "at least 12" in weak.output
    assert "bob@shop.example" in _ok(cli, "user", "list")

    for email, role in (("ann@shop.example", "owner"), ("bob@shop.example", "viewer")):
        invited = json.loads(_ok(cli, "member", "add", "--tenant", "acme", email, "--role", role, "--json"))
        invitations.accept(store_engine, invited["token"], accounts.get_user(store_engine, email).id)
    _ok(cli, "member", "role", "--tenant", "acme", "bob@shop.example", "analyst")
    demote = cli.invoke(app, ["member", "role", "--tenant", "acme", "ann@shop.example", "viewer"])
    assert demote.exit_code == 1 and "last owner" in demote.output
    _ok(cli, "member", "remove", "--tenant", "acme", "bob@shop.example")
    _ok(cli, "user", "disable", "bob@shop.example")
    assert accounts.get_user(store_engine, "bob@shop.example").status == "disabled"

    info, _ = tenancy.create_api_key(store_engine, "acme", "analyst", "dash")
    listed = json.loads(_ok(cli, "apikey", "list", "--tenant", "acme", "--json"))
    assert [k["id"] for k in listed] == [info.id] and listed[0]["revoked_at"] is None
    _ok(cli, "apikey", "revoke", "--tenant", "acme", info.id)
    assert json.loads(_ok(cli, "apikey", "list", "--tenant", "acme", "--json"))[0]["revoked_at"]
    missing = cli.invoke(app, ["apikey", "revoke", "--tenant", "acme", "key_nope"])
    assert missing.exit_code == 1


def test_revoked_key_stops_working_on_the_api(server: InProcServer) -> None:
    engine, slug = server.state.engine, server.tenant.slug
    info, key = tenancy.create_api_key(engine, slug, "owner")
    other = tenancy.create_tenant(engine, "other")
    with pytest.raises(NotFound):  # another tenant's key id is not found from here
        tenancy.revoke_api_key(engine, other.slug, info.id)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        headers = {"Authorization": f"Bearer {key}"}
        assert c.get(f"/api/v1/t/{slug}/audit", headers=headers).status_code == 200
        tenancy.revoke_api_key(engine, slug, info.id)
        assert c.get(f"/api/v1/t/{slug}/audit", headers=headers).status_code == 401
    assert "apikey.revoke" in [e["action"] for e in audit.export(engine, server.tenant.id)]


def test_cli_bootstrap_password_lockout_and_mfa_commands(cli: CliRunner, store_engine: Engine) -> None:
    tenancy.create_tenant(store_engine, "acme", "Acme", "UTC", "USD")
    first = _ok(cli, "user", "bootstrap", "--tenant", "acme", "--email", "boss@shop.example")
    password = first.split("password: ")[1].split()[0]
    assert accounts.verify_password(store_engine, "boss@shop.example", password) is not None
    assert "set up an authenticator app" in first
    again = _ok(cli, "user", "bootstrap", "--tenant", "acme", "--email", "boss@shop.example")
    assert "unchanged" in again
    changed = _ok(
        cli, "user", "set-password", "boss@shop.example", "--password-stdin", stdin="a much better password\n"
    )
    assert "sessions were ended" in changed
    assert accounts.verify_password(store_engine, "boss@shop.example", "a much better password") is not None
    assert "optional" in _ok(cli, "member", "mfa-policy", "--tenant", "acme", "--no-require")
    assert "required" in _ok(cli, "member", "mfa-policy", "--tenant", "acme", "--require")
    assert "unlocked" in _ok(cli, "user", "unlock", "boss@shop.example")
    assert "reset" in _ok(cli, "user", "mfa-reset", "boss@shop.example")
    tenant_id = tenants.get_tenant(store_engine, "acme").id
    actions = [r["action"] for r in audit.export(store_engine, tenant_id)]
    for action in ("user.password_set", "tenant.mfa_policy", "user.unlock", "user.mfa_reset"):
        assert action in actions
