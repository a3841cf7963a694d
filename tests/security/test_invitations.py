"""Members join by invitation (issue 10: "any admin can add any platform account by e-mail and learn which
e-mails exist").

Before, ``POST /members`` answered 201 for an e-mail with an account and 404 for one without, so an admin
of any tenant could enumerate the platform's accounts. Now every e-mail gets the same 202 and body shape,
nobody is added until the invited person signs in and accepts, and a token that cannot be used (another
account, expired, revoked, used) gets one answer. HTTP tests use the SQLite server; the service and CLI
tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from ecomops.audit import service as audit
from ecomops.cli import app
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, NotFound, Overloaded, ValidationFailed
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.security import accounts, invitations
from ecomops.security.models import Invitation
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import PASSWORD, signed_in
from tests.timing import DEADLINE

PER_HOUR = 6


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A small hourly allowance, so the limit is reached in a few requests."""
    monkeypatch.setenv("ECOMOPS_INVITATIONS_PER_HOUR", str(PER_HOUR))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def owner_api(server: InProcServer) -> Iterator[httpx.Client]:
    _, key = tenancy.create_api_key(server.state.engine, "acme", "owner", "root")
    with _api(server, key) as client:
        yield client


def _api(server: InProcServer, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    )


def _shape(value: object) -> object:
    """The body with every value replaced by its type: what the caller learns besides the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def _accept(client: httpx.Client, csrf: str, token: str) -> httpx.Response:
    return client.post("/api/v1/invitations/accept", json={"token": token}, headers={"x-csrf-token": csrf})


def test_inviting_answers_alike_whether_or_not_the_email_has_an_account(
    server: InProcServer, owner_api: httpx.Client
) -> None:
    engine = server.state.engine
    accounts.create_user(engine, "ann@elsewhere.test", PASSWORD)  # someone else's user on this platform
    known = owner_api.post("/members", json={"email": "Ann@Elsewhere.test", "role": "analyst"})
    unknown = owner_api.post("/members", json={"email": "ghost@nowhere.test", "role": "analyst"})
    assert known.status_code == unknown.status_code == 202, (known.text, unknown.text)
    assert _shape(known.json()) == _shape(unknown.json())
    assert known.json()["status"] == unknown.json()["status"] == "invited"
    assert known.json()["invitation"]["email"] == "ann@elsewhere.test"
    assert set(known.json()["invitation"]) == {"id", "email", "role", "expires_at"}
    for body in (known.json(), unknown.json()):
        assert body["accept_url"] == f"{server.url}/invitations/accept?token={body['token']}"
    assert owner_api.get("/members").json() == []  # nobody was added directly
    pending = owner_api.get("/invitations").json()
    assert {i["email"] for i in pending} == {"ann@elsewhere.test", "ghost@nowhere.test"}
    assert all("token" not in i and "token_digest" not in i for i in pending)

    accounts.add_member(engine, "acme", "ann@elsewhere.test", "viewer")
    member = owner_api.post("/members", json={"email": "ANN@elsewhere.test", "role": "admin"})
    assert member.status_code == 409 and "already a member" in member.json()["error"]["message"]
    invalid = owner_api.post("/members", json={"email": "not-an-email", "role": "viewer"})
    assert invalid.status_code == 422


def test_the_invited_person_accepts_once_and_joins_with_the_role(
    server: InProcServer, owner_api: httpx.Client
) -> None:
    engine = server.state.engine
    accounts.create_user(engine, "ann@acme.test", PASSWORD)
    invited = owner_api.post("/members", json={"email": "ann@acme.test", "role": "analyst"}).json()
    token = invited["token"]
    with signed_in(server, "ann@acme.test") as (ann, csrf):
        assert ann.get("/api/v1/t/acme/imports").status_code == 404  # not a member yet: no such shop
        no_csrf = ann.post("/api/v1/invitations/accept", json={"token": token})
        assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
        joined = _accept(ann, csrf, token)
        assert joined.status_code == 200, joined.text
        assert joined.json() == {"tenant": "acme", "name": "Acme Shop", "role": "analyst"}
        assert ann.get("/api/v1/t/acme/imports").status_code == 200
        again = _accept(ann, csrf, token)
        assert again.status_code == 404 and again.json()["error"]["code"] == "invitation_invalid"
    members = owner_api.get("/members").json()
    assert [(m["email"], m["role"]) for m in members] == [("ann@acme.test", "analyst")]
    assert owner_api.get("/invitations").json() == []
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as anonymous:
        refused = anonymous.post("/api/v1/invitations/accept", json={"token": token})
        assert refused.status_code == 401

    records = audit.export(engine, server.tenant.id)
    actions = [r["action"] for r in records]
    assert actions[-3:] == ["invitation.create", "invitation.accept", "member.add"]
    assert token not in json.dumps(records, default=str)  # the token is never audited
    accept = next(r for r in records if r["action"] == "invitation.accept")
    assert accept["target_id"] == invited["invitation"]["id"] and accept["actor"] == "user:ann@acme.test"
    assert audit.verify(engine, server.tenant.id).ok


def test_wrong_account_expired_revoked_and_used_tokens_get_one_answer(
    server: InProcServer, owner_api: httpx.Client
) -> None:
    engine = server.state.engine
    for email in ("ann@acme.test", "bob@acme.test"):
        accounts.create_user(engine, email, PASSWORD)

    def invite() -> dict[str, str]:
        body = owner_api.post("/members", json={"email": "ann@acme.test", "role": "viewer"}).json()
        return {"id": body["invitation"]["id"], "token": body["token"]}

    answers = []
    with (
        signed_in(server, "ann@acme.test") as (ann, ann_csrf),
        signed_in(server, "bob@acme.test") as (bob, bob_csrf),
    ):
        for_ann = invite()
        answers.append(_accept(bob, bob_csrf, for_ann["token"]))  # another account
        answers.append(_accept(ann, ann_csrf, "made-up-token"))  # no such invitation
        with tenant_session(engine, server.tenant.id) as s:
            s.execute(
                update(Invitation)
                .where(Invitation.id == for_ann["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        answers.append(_accept(ann, ann_csrf, for_ann["token"]))  # expired
        revoked = invite()
        assert owner_api.delete(f"/invitations/{revoked['id']}").status_code == 204
        answers.append(_accept(ann, ann_csrf, revoked["token"]))  # revoked
        replaced = invite()
        latest = invite()  # a new invitation to the same e-mail replaces the pending one
        answers.append(_accept(ann, ann_csrf, replaced["token"]))
        assert _accept(ann, ann_csrf, latest["token"]).status_code == 200
        answers.append(_accept(ann, ann_csrf, latest["token"]))  # used
    assert {a.status_code for a in answers} == {404}
    assert {json.dumps(a.json(), sort_keys=True) for a in answers} == {
        json.dumps(
            {
                "error": {
                    "code": "invitation_invalid",
                    "message": invitations.INVALID_MESSAGE,
                    "details": None,
                }
            },
            sort_keys=True,
        )
    }
    assert owner_api.delete(f"/invitations/{revoked['id']}").status_code == 409  # not pending any more
    assert owner_api.delete("/invitations/inv_missing").status_code == 404
    revokes = audit.export(engine, server.tenant.id, action="invitation.revoke")
    assert {r["target_id"] for r in revokes} == {revoked["id"], replaced["id"]}


def test_only_owners_invite_owners_or_revoke_their_invitations(
    server: InProcServer, owner_api: httpx.Client
) -> None:
    admin_info, admin_key = tenancy.create_api_key(server.state.engine, "acme", "admin", "ops")
    with _api(server, admin_key) as admin:
        escalate = admin.post("/members", json={"email": "pal@acme.test", "role": "owner"})
        assert escalate.status_code == 403 and "only an owner" in escalate.json()["error"]["message"]
        assert admin.post("/members", json={"email": "pal@acme.test", "role": "admin"}).status_code == 202
        owner_invite = owner_api.post("/members", json={"email": "co@acme.test", "role": "owner"}).json()
        refused = admin.delete(f"/invitations/{owner_invite['invitation']['id']}")
        assert refused.status_code == 403
        assert owner_api.delete(f"/invitations/{owner_invite['invitation']['id']}").status_code == 204
    pending = owner_api.get("/invitations").json()
    assert [(i["email"], i["invited_by"]) for i in pending] == [("pal@acme.test", f"api_key:{admin_info.id}")]
    creates = audit.export(server.state.engine, server.tenant.id, action="invitation.create")
    assert len(creates) == 2 and creates[0]["actor"] == f"api_key:{admin_info.id}"


def test_a_tenant_gets_a_bounded_number_of_invitations_per_hour(
    server: InProcServer, owner_api: httpx.Client
) -> None:
    for i in range(PER_HOUR):
        created = owner_api.post("/members", json={"email": f"p{i}@acme.test", "role": "viewer"})
        assert created.status_code == 202
        if i == 0:
            assert owner_api.delete(f"/invitations/{created.json()['invitation']['id']}").status_code == 204
    limited = owner_api.post("/members", json={"email": "more@acme.test", "role": "viewer"})
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "invitation_rate_limited"
    assert 3500 <= int(limited.headers["retry-after"]) <= 3600
    pending = owner_api.get("/invitations").json()
    assert len(pending) == PER_HOUR - 1 and "more@acme.test" not in {p["email"] for p in pending}
    other = tenancy.create_tenant(server.state.engine, "other")
    _, other_key = tenancy.create_api_key(server.state.engine, other.slug, "owner")
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/other",
        headers={"Authorization": f"Bearer {other_key}"},
        timeout=DEADLINE,
    ) as other_api:  # the allowance is per tenant
        assert (
            other_api.post("/members", json={"email": "more@acme.test", "role": "viewer"}).status_code == 202
        )


def test_the_console_shows_the_offer_and_accepts_it(
    server: InProcServer, owner_api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ecomops.access")
    engine = server.state.engine
    for email in ("ann@acme.test", "bob@acme.test"):
        accounts.create_user(engine, email, PASSWORD)
    token = owner_api.post("/members", json={"email": "ann@acme.test", "role": "marketer"}).json()["token"]
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as anonymous:
        login = anonymous.get(f"/invitations/accept?token={token}")
        assert login.status_code == 303
        assert login.headers["location"] == f"/login?next=%2Finvitations%2Faccept%3Ftoken%3D{token}"
    with signed_in(server, "bob@acme.test") as (bob, bob_csrf):
        wrong = bob.get(f"/invitations/accept?token={token}")
        assert wrong.status_code == 404 and "another e-mail address" in wrong.text
        assert "Acme Shop" not in wrong.text  # the wrong account learns nothing about the invitation
        refused = bob.post(f"/invitations/accept?token={token}", data={"csrf_token": bob_csrf})
        assert refused.status_code == 404
    with signed_in(server, "ann@acme.test") as (ann, csrf):
        page = ann.get(f"/invitations/accept?token={token}")
        assert page.status_code == 200 and "Acme Shop" in page.text and "Marketer" in page.text
        assert accounts.list_members(engine, "acme") == []  # opening the link changes nothing
        forged = ann.post(f"/invitations/accept?token={token}", data={"csrf_token": "nope"})
        assert forged.status_code == 403
        accepted = ann.post(f"/invitations/accept?token={token}", data={"csrf_token": csrf})
        assert accepted.status_code == 303 and accepted.headers["location"] == "/t/acme/"
    access = [
        f"{r.getMessage()} {getattr(r, 'path', '')}" for r in caplog.records if r.name == "ecomops.access"
    ]
    assert any("/invitations/accept" in line for line in access)
    assert not any(token in line for line in access)  # the token never reaches the server log
    assert [(m.email, m.role) for m in accounts.list_members(engine, "acme")] == [
        ("ann@acme.test", "marketer")
    ]


# --- the service and the CLI, on SQLite and PostgreSQL -----------------------------------------


def test_invitations_service_on_both_stores(store_engine: Engine) -> None:
    t = tenancy.create_tenant(store_engine, "acme", "Acme", "UTC", "USD")
    ann = accounts.create_user(store_engine, "ann@shop.example", "a long passphrase for ann")
    with pytest.raises(ValidationFailed):
        invitations.invite(store_engine, "acme", "ann@shop.example", "root", days=7, per_hour=3)
    first = invitations.invite(store_engine, "acme", " Ann@Shop.Example ", "analyst", days=7, per_hour=3)
    assert first.invitation.email == "ann@shop.example" and first.invitation.status == invitations.PENDING
    assert first.invitation.expires_at - first.invitation.created_at == timedelta(days=7)
    with tenant_session(store_engine, t.id) as s:
        stored = s.get(Invitation, first.invitation.id)
        assert stored is not None and stored.token_digest == invitations.token_digest(first.token)
        assert first.token not in (stored.token_digest, stored.id)
    second = invitations.invite(store_engine, "acme", "ann@shop.example", "admin", days=7, per_hour=3)
    assert [i.id for i in invitations.list_pending(store_engine, "acme")] == [second.invitation.id]
    with pytest.raises(NotFound):
        invitations.accept(store_engine, first.token, ann.id)  # replaced by the second
    offered = invitations.offer(store_engine, second.token, ann.id)
    assert (offered.tenant_slug, offered.role) == ("acme", "admin")
    assert invitations.accept(store_engine, second.token, ann.id).role == "admin"
    assert [(m.email, m.role) for m in accounts.list_members(store_engine, "acme")] == [
        ("ann@shop.example", "admin")
    ]
    with pytest.raises(Conflict, match="already a member"):
        invitations.invite(store_engine, "acme", "ann@shop.example", "viewer", days=7, per_hour=3)
    invitations.invite(store_engine, "acme", "x@shop.example", "viewer", days=7, per_hour=3)
    with pytest.raises(Overloaded) as limited:  # three created within the hour (the replaced one counts)
        invitations.invite(store_engine, "acme", "y@shop.example", "viewer", days=7, per_hour=3)
    assert limited.value.retry_after > 3500
    assert "y@shop.example" not in {i.email for i in invitations.list_pending(store_engine, "acme")}
    actions = [r["action"] for r in audit.export(store_engine, t.id)]
    assert actions == [
        "tenant.create",
        "invitation.create",
        "invitation.create",
        "invitation.revoke",
        "invitation.accept",
        "member.add",
        "invitation.create",
    ]
    assert audit.verify(store_engine, t.id).ok


def test_accepting_into_another_tenant_keeps_each_tenant_scoped(store_engine: Engine) -> None:
    tenancy.create_tenant(store_engine, "acme", "Acme", "UTC", "USD")
    tenancy.create_tenant(store_engine, "outlet", "Outlet", "UTC", "USD")
    ann = accounts.create_user(store_engine, "ann@shop.example", "a long passphrase for ann")
    invited = invitations.invite(store_engine, "outlet", "ann@shop.example", "viewer", days=1, per_hour=5)
    assert invitations.list_pending(store_engine, "acme") == []
    with pytest.raises(NotFound):
        invitations.revoke(store_engine, "acme", invited.invitation.id)  # another tenant's id
    assert invitations.accept(store_engine, invited.token, ann.id).tenant_slug == "outlet"
    assert accounts.list_members(store_engine, "acme") == []


@pytest.fixture
def cli(store_url: str, store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_invites_lists_and_revokes(cli: CliRunner, store_engine: Engine) -> None:
    tenancy.create_tenant(store_engine, "acme", "Acme", "UTC", "USD")
    out = _ok(cli, "member", "invite", "bob@shop.example", "--tenant", "acme", "--role", "analyst")
    link = re.search(r"http://\S+/invitations/(\S+)", out)
    assert link is not None and "bob@shop.example invited to acme as analyst" in out
    added = json.loads(
        _ok(cli, "member", "add", "cy@shop.example", "--tenant", "acme", "--role", "viewer", "--json")
    )
    assert added["status"] == "invited"
    assert added["accept_url"].endswith(f"/invitations/accept?token={added['token']}")
    listed = json.loads(_ok(cli, "member", "invitations", "--tenant", "acme", "--json"))
    assert {i["email"] for i in listed} == {"bob@shop.example", "cy@shop.example"}
    assert all(i["invited_by"].startswith("cli:") for i in listed)
    assert "bob@shop.example" in _ok(cli, "member", "invitations", "--tenant", "acme")
    bob_id = next(i["id"] for i in listed if i["email"] == "bob@shop.example")
    assert "revoked" in _ok(cli, "member", "revoke-invitation", bob_id, "--tenant", "acme")
    again = cli.invoke(app, ["member", "revoke-invitation", bob_id, "--tenant", "acme"])
    assert again.exit_code == 1 and "not pending" in again.output
    bob = accounts.create_user(store_engine, "bob@shop.example", "a long passphrase for bob")
    with pytest.raises(NotFound):
        invitations.accept(store_engine, link.group(1), bob.id)
    assert [
        i["email"] for i in json.loads(_ok(cli, "member", "invitations", "--tenant", "acme", "--json"))
    ] == ["cy@shop.example"]
