"""Console sign-in through the real server: sessions, CSRF, MFA enrolment and sign-in, step-up,
lockout, expiry and session endings on privilege change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import Engine, update

from ecomops.audit import service as audit
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import StepUpRequired
from ecomops.platform.store.db import session_scope
from ecomops.platform.web.deps import TenantContext
from ecomops.platform.web.stepup import require_step_up
from ecomops.security import accounts, auth
from ecomops.security.models import UserSession
from tests.conftest import InProcServer
from tests.timing import ManualDateTime

PASSWORD = "correct horse battery staple"
JSON = {"content-type": "application/json"}


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests sign in many times from one address; the per-IP limit has its own tests."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def _member(engine: Engine, email: str, role: str, tenant: str = "acme") -> None:
    accounts.create_user(engine, email, PASSWORD)
    accounts.add_member(engine, tenant, email, role)


def _client(server: InProcServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def _login(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/login", json={"email": email, "password": password})


def _post(client: httpx.Client, path: str, csrf: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(path, json=body or {}, headers={"x-csrf-token": csrf})


def _enrol(client: httpx.Client, csrf: str, clock: ManualDateTime) -> tuple[pyotp.TOTP, list[str], str]:
    enrolment = _post(client, "/auth/mfa/enroll", csrf)
    assert enrolment.status_code == 200, enrolment.text
    body = enrolment.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/ecomops:")
    assert body["qr_svg"].startswith("<svg")
    totp = pyotp.TOTP(body["secret"])
    confirmed = _post(client, "/auth/mfa/confirm", csrf, {"code": totp.at(clock())})
    assert confirmed.status_code == 200, confirmed.text
    return totp, confirmed.json()["recovery_codes"], confirmed.json()["csrf_token"]


def test_analyst_signs_in_and_the_session_is_checked_for_csrf(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        login = _login(client, "ana@acme.test")
        assert login.status_code == 200, login.text
        assert login.json()["stage"] == "active"  # analysts need no MFA under the default policy
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        assert client.get("/api/v1/t/acme/imports").status_code == 200
        assert client.get("/api/v1/t/acme/audit").status_code == 403  # the matrix still applies
        # A state change with the cookie but without the CSRF header is refused before anything runs.
        no_csrf = client.post("/api/v1/t/acme/query", json={"sql": "SELECT 1"})
        assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
        me = client.get("/auth/me").json()
        assert me["email"] == "ana@acme.test" and me["tenants"] == [
            {"slug": "acme", "name": "Acme Shop", "role": "analyst"}
        ]
        out = client.post("/auth/logout", headers={"x-csrf-token": login.json()["csrf_token"]})
        assert out.status_code == 204
        assert client.get("/api/v1/t/acme/imports").status_code == 401


def test_another_tenant_is_not_found_for_a_signed_in_user(server: InProcServer, engine: Engine) -> None:
    from ecomops.tenancy import service as tenancy

    tenancy.create_tenant(engine, "rival", "Rival", "UTC", "USD")
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        _login(client, "ana@acme.test")
        response = client.get("/api/v1/t/rival/imports")
        assert response.status_code == 404
        assert client.get("/api/v1/t/nope/imports").json()["error"] == response.json()["error"] | {
            "message": "tenant 'nope' not found",
            "details": {"tenant": "nope"},
        }


def test_owner_enrols_then_signs_in_with_totp_and_recovery_codes(
    server: InProcServer, engine: Engine, totp_clock: ManualDateTime
) -> None:
    _member(engine, "owner@acme.test", "owner")
    with _client(server) as client:
        first = _login(client, "owner@acme.test").json()
        assert first["stage"] == "enroll"  # policy: owners need MFA, none set up yet
        blocked = client.get("/api/v1/t/acme/imports")
        assert blocked.status_code == 401 and blocked.json()["error"]["code"] == "mfa_required"
        old_cookie = client.cookies["eco_session"]
        totp, codes, csrf = _enrol(client, first["csrf_token"], totp_clock)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert client.cookies["eco_session"] != old_cookie  # rotated when MFA turned on
        assert client.get("/api/v1/t/acme/imports").status_code == 200
        client.post("/auth/logout", headers={"x-csrf-token": csrf})

    with _client(server) as client:
        pending = _login(client, "owner@acme.test").json()
        assert pending["stage"] == "mfa"
        assert client.get("/api/v1/t/acme/imports").status_code == 401
        wrong = _post(client, "/auth/mfa", pending["csrf_token"], {"code": "000000"})
        assert wrong.status_code == 401
        # The code used at enrolment is spent; the next step's code (within drift) is fresh. The server's
        # TOTP clock stands still, so no step boundary can pass between the two requests.
        replay = _post(client, "/auth/mfa", pending["csrf_token"], {"code": totp.at(totp_clock())})
        assert replay.status_code == 401
        fresh = totp.at(totp_clock() + timedelta(seconds=30))
        ok = _post(client, "/auth/mfa", pending["csrf_token"], {"code": fresh})
        assert ok.status_code == 200 and ok.json()["stage"] == "active"
        assert ok.json()["step_up_until"] is not None
        assert client.get("/api/v1/t/acme/imports").status_code == 200
        again = _post(client, "/auth/step-up", ok.json()["csrf_token"], {"code": fresh})
        assert again.status_code == 401  # replayed within its window

    for attempt in range(2):
        with _client(server) as client:
            login = _login(client, "owner@acme.test")
            assert login.status_code == 200, login.text
            pending = login.json()
            used = _post(client, "/auth/mfa", pending["csrf_token"], {"code": codes[0]})
            assert used.status_code == (200 if attempt == 0 else 401)  # recovery codes work once
    actors = {r["action"]: r["actor"] for r in audit.export(engine, server.tenant.id)}
    assert actors["user.mfa_enabled"] == "user:owner@acme.test"  # the person, not the server process
    assert actors["user.mfa_recovery_used"] == "user:owner@acme.test"


def test_step_up_window_and_expiry(server: InProcServer, engine: Engine, totp_clock: ManualDateTime) -> None:
    _member(engine, "owner@acme.test", "owner")
    with _client(server) as client:
        first = _login(client, "owner@acme.test").json()
        totp, _, csrf = _enrol(client, first["csrf_token"], totp_clock)
        # Enrolment verified a code just now: a sensitive action is allowed straight away.
        fresh = _post(client, "/auth/mfa/recovery-codes", csrf)
        assert fresh.status_code == 200 and len(fresh.json()["recovery_codes"]) == 10
        with session_scope(engine) as s:
            s.execute(update(UserSession).values(mfa_at=utcnow() - timedelta(minutes=11)))
        stale = _post(client, "/auth/mfa/recovery-codes", csrf)
        assert stale.status_code == 403 and stale.json()["error"]["code"] == "step_up_required"
        totp_clock.advance(30)
        up = _post(client, "/auth/step-up", csrf, {"code": totp.at(totp_clock())})
        assert up.status_code == 200
        assert _post(client, "/auth/mfa/recovery-codes", up.json()["csrf_token"]).status_code == 200
        # The old CSRF token died with the rotated session.
        assert _post(client, "/auth/mfa/recovery-codes", csrf).status_code == 403


def test_require_step_up_only_binds_sessions(tenant: Any) -> None:
    long_ago = utcnow() - timedelta(minutes=11)
    for ctx in (
        TenantContext(tenant, "user:a", "owner", via="session", mfa_at=None),
        TenantContext(tenant, "user:a", "owner", via="session", mfa_at=long_ago),
    ):
        with pytest.raises(StepUpRequired):
            require_step_up(ctx, "privacy export")
    require_step_up(TenantContext(tenant, "user:a", "owner", via="session", mfa_at=utcnow()), "x")
    require_step_up(TenantContext(tenant, "api_key:k", "owner", via="api_key"), "x")


def test_lockout_after_repeated_failures(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        for _ in range(server.state.settings.login_max_failures):
            assert _login(client, "ana@acme.test", "wrong password!!").status_code == 401
        locked = _login(client, "ana@acme.test")  # right password, still refused
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "account_locked"
        assert 1 <= int(locked.headers["retry-after"]) <= 61  # the first lock lasts a minute
        unknown = _login(client, "nobody@acme.test")
        assert (
            unknown.status_code == 401 and unknown.json()["error"]["message"] == "invalid email or password"
        )
        auth.unlock(engine, "ana@acme.test")
        assert _login(client, "ana@acme.test").status_code == 200
    actors = {r["action"]: r["actor"] for r in audit.export(engine, server.tenant.id)}
    assert actors["user.locked"] == "anonymous" and "user.unlock" in actors


def test_idle_and_absolute_expiry(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        _login(client, "ana@acme.test")
        assert client.get("/auth/me").status_code == 200
        with session_scope(engine) as s:
            s.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        assert client.get("/auth/me").status_code == 401
        _login(client, "ana@acme.test")
        with session_scope(engine) as s:
            s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert client.get("/auth/me").status_code == 401


def test_role_change_removal_and_disable_end_sessions(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        _login(client, "ana@acme.test")
        accounts.set_role(engine, "acme", "ana@acme.test", "viewer")
        assert client.get("/auth/me").status_code == 401
        _login(client, "ana@acme.test")
        accounts.disable_user(engine, "ana@acme.test")
        assert client.get("/auth/me").status_code == 401
        assert _login(client, "ana@acme.test").status_code == 401


def test_login_wants_json(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        form = client.post("/auth/login", data={"email": "ana@acme.test", "password": PASSWORD})
        assert form.status_code == 415


def test_html_sign_in_with_csrf_and_safe_redirects(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        page = client.get("/login?next=//evil.example/x")
        assert page.status_code == 200 and 'name="csrf_token"' in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert client.cookies["eco_csrf"] == token
        form = {"email": "ana@acme.test", "password": PASSWORD, "next": "//evil.example/x"}
        refused = client.post("/login", data=form)  # no token
        assert refused.status_code == 403 and "form expired" in refused.text
        wrong = client.post("/login", data={**form, "password": "nope nope nope", "csrf_token": token})
        assert wrong.status_code == 401 and "invalid email or password" in wrong.text
        done = client.post("/login", data={**form, "csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert client.get("/login").headers["location"] == "/"


def test_session_cookie_is_secure_behind_a_tls_proxy(server: InProcServer, engine: Engine) -> None:
    _member(engine, "ana@acme.test", "analyst")
    with _client(server) as client:
        response = client.post(
            "/auth/login",
            json={"email": "ana@acme.test", "password": PASSWORD},
            headers={"x-forwarded-proto": "https"},
        )
        assert response.status_code == 200
        assert "secure" in response.headers["set-cookie"].lower()


def test_html_enrolment_shows_qr_and_signs_in(server: InProcServer, engine: Engine) -> None:
    _member(engine, "owner@acme.test", "owner")
    with _client(server) as client:
        token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        done = client.post(
            "/login", data={"email": "owner@acme.test", "password": PASSWORD, "csrf_token": token}
        )
        assert done.headers["location"] == "/account/mfa"
        page = client.get("/account/mfa")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        started = client.post("/account/mfa/start", data={"csrf_token": csrf})
        assert "<svg" in started.text and "Turn on two-factor" in started.text
        secret = started.text.split("by hand: <code>")[1].split("<")[0]
        retry = client.post("/account/mfa/confirm", data={"csrf_token": csrf, "code": "123"})
        assert retry.status_code == 422 and secret in retry.text  # same QR shown again
        codes = client.post(
            "/account/mfa/confirm", data={"csrf_token": csrf, "code": pyotp.TOTP(secret).now()}
        )
        assert codes.status_code == 200 and codes.text.count("<li>") == 10
        assert client.get("/auth/me").json()["mfa_enabled"] is True


def test_bootstrap_owner_is_idempotent(engine: Engine, tenant: Any) -> None:
    first = auth.bootstrap_owner(engine, "acme", "boss@acme.test", reset_password=False)
    assert first.created and first.password and first.mfa_required
    assert accounts.verify_password(engine, "boss@acme.test", first.password) is not None
    second = auth.bootstrap_owner(engine, "acme", "boss@acme.test", reset_password=False)
    assert not second.created and second.password is None
    third = auth.bootstrap_owner(engine, "acme", "boss@acme.test", reset_password=True)
    assert third.password and accounts.verify_password(engine, "boss@acme.test", third.password)
    assert [m.role for m in accounts.list_members(engine, "acme")] == ["owner"]
