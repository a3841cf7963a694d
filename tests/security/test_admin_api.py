"""Tenant administration over HTTP: keys, sources, members and MFA policy, with step-up and the
rule that only owners hand out (or take away) the owner role."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import Engine, update

from ecomops.audit import service as audit
from ecomops.kernel.clock import utcnow
from ecomops.platform.store.db import session_scope
from ecomops.security import accounts, invitations
from ecomops.security.models import UserSession
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE, ManualDateTime

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def _api(server: InProcServer, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    )


def _accepted(engine: Engine, email: str, token: str) -> str:
    """The invited person accepts (as from the console); their user id."""
    user = accounts.get_user(engine, email)
    invitations.accept(engine, token, user.id)
    return user.id


def test_keys_sources_and_members_through_the_api(server: InProcServer, engine: Engine) -> None:
    _, owner_key = tenancy.create_api_key(engine, "acme", "owner", "root")
    _, admin_key = tenancy.create_api_key(engine, "acme", "admin", "ops")
    accounts.create_user(engine, "ann@acme.test", PASSWORD)
    with _api(server, admin_key) as admin, _api(server, owner_key) as owner:
        created = admin.post("/keys", json={"name": "dash", "role": "analyst", "expires_days": 30})
        assert created.status_code == 201 and created.json()["key"].startswith("eco_live_")
        with _api(server, created.json()["key"]) as analyst:
            assert analyst.get("/imports").status_code == 200
            assert analyst.get("/keys").status_code == 403
        listed = admin.get("/keys").json()
        assert {k["name"] for k in listed} == {"root", "ops", "dash"}
        assert all("key" not in k and "key_hash" not in k for k in listed)
        escalate = admin.post("/keys", json={"name": "mine", "role": "owner"})
        assert escalate.status_code == 403 and "only an owner" in escalate.json()["error"]["message"]
        assert owner.post("/keys", json={"name": "second", "role": "owner"}).status_code == 201
        assert admin.delete(f"/keys/{created.json()['id']}").status_code == 204
        with _api(server, created.json()["key"]) as revoked:
            assert revoked.get("/imports").status_code == 401

        source = admin.post("/sources", json={"name": "mini", "channel": "wechat_mini"})
        assert source.status_code == 201 and source.json()["write_key"].startswith("wk_")
        assert admin.post("/sources", json={"name": "x", "channel": "fax"}).status_code == 422

        invited = admin.post("/members", json={"email": "ann@acme.test", "role": "analyst"})
        assert invited.status_code == 202
        user_id = _accepted(engine, "ann@acme.test", invited.json()["token"])
        assert admin.put(f"/members/{user_id}/role", json={"role": "owner"}).status_code == 403
        assert owner.put(f"/members/{user_id}/role", json={"role": "owner"}).status_code == 200
        assert admin.delete(f"/members/{user_id}").status_code == 403  # an owner now
        last = owner.delete(f"/members/{user_id}")  # the tenant's only owner member
        assert last.status_code == 409 and "last owner" in last.json()["error"]["message"]
        accounts.create_user(engine, "bob@acme.test", PASSWORD)
        bob_invited = owner.post("/members", json={"email": "bob@acme.test", "role": "owner"}).json()
        bob = _accepted(engine, "bob@acme.test", bob_invited["token"])
        assert owner.delete(f"/members/{user_id}").status_code == 204
        assert owner.get("/members").json() == [{"user_id": bob, "email": "bob@acme.test", "role": "owner"}]
        assert admin.delete("/members/usr_nope").status_code == 404

        assert admin.put("/mfa-policy", json={"require_mfa": False}).status_code == 403
        assert owner.put("/mfa-policy", json={"require_mfa": False}).json() == {"require_mfa": False}
        assert admin.get("/mfa-policy").json() == {"require_mfa": False}
    actions = [r["action"] for r in audit.export(engine, server.tenant.id)]
    for action in (
        "apikey.create",
        "apikey.revoke",
        "source.create",
        "invitation.create",
        "invitation.accept",
        "member.add",
        "member.role",
        "member.remove",
    ):
        assert action in actions, action
    assert "tenant.mfa_policy" in actions


def test_console_admin_needs_a_fresh_second_factor(
    server: InProcServer, engine: Engine, totp_clock: ManualDateTime
) -> None:
    accounts.create_user(engine, "adm@acme.test", PASSWORD)
    accounts.add_member(engine, "acme", "adm@acme.test", "admin")
    with httpx.Client(base_url=server.url, timeout=30) as c:
        login = c.post("/auth/login", json={"email": "adm@acme.test", "password": PASSWORD}).json()
        assert login["stage"] == "enroll"
        csrf = login["csrf_token"]
        secret = c.post("/auth/mfa/enroll", headers={"x-csrf-token": csrf}).json()["secret"]
        totp = pyotp.TOTP(secret)
        confirmed = c.post(
            "/auth/mfa/confirm", json={"code": totp.at(totp_clock())}, headers={"x-csrf-token": csrf}
        )
        csrf = confirmed.json()["csrf_token"]
        headers = {"x-csrf-token": csrf}
        fresh = c.post("/api/v1/t/acme/keys", json={"name": "k1", "role": "viewer"}, headers=headers)
        assert fresh.status_code == 201  # enrolment just verified a code
        with session_scope(engine) as s:
            s.execute(update(UserSession).values(mfa_at=utcnow() - timedelta(minutes=11)))
        stale = c.post("/api/v1/t/acme/keys", json={"name": "k2", "role": "viewer"}, headers=headers)
        assert stale.status_code == 403 and stale.json()["error"]["code"] == "step_up_required"
        up = c.post(
            "/auth/step-up", json={"code": totp.at(totp_clock() + timedelta(seconds=30))}, headers=headers
        )
        assert up.status_code == 200
        headers = {"x-csrf-token": up.json()["csrf_token"]}
        again = c.post("/api/v1/t/acme/keys", json={"name": "k2", "role": "viewer"}, headers=headers)
        assert again.status_code == 201


def test_only_an_owner_can_revoke_an_owner_key(server: InProcServer, engine: Engine) -> None:
    """Issue 10: an admin could revoke the owners' keys (cutting their automation off) while only owners
    may create such keys; now it is refused like creating one, and nothing is revoked or audited."""
    owner_info, owner_key = tenancy.create_api_key(engine, "acme", "owner", "owner automation")
    _, admin_key = tenancy.create_api_key(engine, "acme", "admin", "ops")
    analyst_info, _ = tenancy.create_api_key(engine, "acme", "analyst", "dash")
    with _api(server, admin_key) as admin, _api(server, owner_key) as owner:
        refused = admin.delete(f"/keys/{owner_info.id}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
        assert "only an owner" in refused.json()["error"]["message"]
        assert owner.get("/keys").status_code == 200  # the owner key still works
        assert admin.delete(f"/keys/{analyst_info.id}").status_code == 204  # admins still revoke the rest

        second_info, second_key = tenancy.create_api_key(engine, "acme", "owner", "second owner key")
        assert owner.delete(f"/keys/{second_info.id}").status_code == 204
        with _api(server, second_key) as revoked:
            assert revoked.get("/keys").status_code == 401
    revokes = audit.export(engine, server.tenant.id, action="apikey.revoke")
    assert sorted(r["target_id"] for r in revokes) == sorted([analyst_info.id, second_info.id])
