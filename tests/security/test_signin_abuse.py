"""Sign-in guessing, over real HTTP (issue 10, "Weak: sign-in"): unknown and known e-mails answer alike
through a lockout, guesses sent together cannot exceed the limit, a lock binds the guessing address
only and grows exponentially, and step-up codes cannot be guessed without limit or record.

Before: the lockout answered 429 for accounts and 401 for unknown e-mails (account enumeration),
concurrent guessing got 13-19 tries instead of 5, anyone could keep any owner locked out, and step-up
allowed unlimited wrong codes, unaudited.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import Engine

from ecomops.audit import service as audit
from ecomops.kernel.clock import utcnow
from ecomops.security import accounts, throttle
from tests.conftest import InProcServer
from tests.timing import DEADLINE, ManualDateTime

PASSWORD = "correct horse battery staple"
WRONG = "wrong password!!"


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-address request limit has its own tests; here the account lockout is on trial."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def _client(server: InProcServer, ip: str = "203.0.113.7") -> httpx.Client:
    # The in-process server trusts X-Forwarded-For from loopback (uvicorn's default proxy settings).
    return httpx.Client(base_url=server.url, timeout=DEADLINE, headers={"X-Forwarded-For": ip})


def _login(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/login", json={"email": email, "password": password})


def _shape(r: httpx.Response) -> tuple[int, str, str]:
    error = r.json()["error"]
    return r.status_code, error["code"], error["message"]


def test_unknown_and_known_emails_are_answered_alike_through_the_lockout(
    server: InProcServer, engine: Engine
) -> None:
    accounts.create_user(engine, "ana@acme.test", PASSWORD)
    accounts.add_member(engine, "acme", "ana@acme.test", "analyst")
    with _client(server) as client:
        for email in ("ana@acme.test", "nobody@acme.test"):
            answers = [_shape(_login(client, email, WRONG)) for _ in range(5)]
            assert answers == [(401, "unauthorized", "invalid email or password")] * 5
        known, unknown = _login(client, "ana@acme.test"), _login(client, "nobody@acme.test")
    assert known.status_code == unknown.status_code == 429
    assert (
        _shape(known)[1:]
        == _shape(unknown)[1:]
        == (
            "account_locked",
            _shape(known)[2],
        )
    )
    assert "from this address" in _shape(known)[2]
    assert 1 <= int(known.headers["retry-after"]) <= 61  # the first lock lasts a minute


def test_guesses_sent_together_are_counted_before_they_are_checked(
    server: InProcServer, engine: Engine
) -> None:
    accounts.create_user(engine, "ana@acme.test", PASSWORD)
    barrier = threading.Barrier(16)
    codes: list[int] = []
    lock = threading.Lock()

    def guess() -> None:
        with _client(server) as client:
            barrier.wait()
            status = _login(client, "ana@acme.test", WRONG).status_code
        with lock:
            codes.append(status)

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert len(codes) == 16
    assert codes.count(401) <= 5 and codes.count(429) >= 11, sorted(codes)


def test_a_lock_binds_the_guessing_address_only_and_grows(
    server: InProcServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.create_user(engine, "owner@acme.test", PASSWORD)
    accounts.add_member(engine, "acme", "owner@acme.test", "analyst")
    clock = ManualDateTime(utcnow())
    monkeypatch.setattr(throttle, "utcnow", clock)
    with _client(server, "198.51.100.66") as attacker, _client(server, "203.0.113.10") as owner:
        for _ in range(5):
            assert _login(attacker, "owner@acme.test", WRONG).status_code == 401
        assert _login(attacker, "owner@acme.test").status_code == 429
        # The owner, from their own address, is not locked out by the attacker.
        assert _login(owner, "owner@acme.test").status_code == 200
        first = _login(attacker, "owner@acme.test", WRONG)
        assert 50 <= int(first.headers["retry-after"]) <= 61
        clock.advance(61)
        for _ in range(5):
            assert _login(attacker, "owner@acme.test", WRONG).status_code == 401
        second = _login(attacker, "owner@acme.test", WRONG)
        assert second.status_code == 429 and 110 <= int(second.headers["retry-after"]) <= 121  # doubled
    locks = [r for r in audit.export(engine, server.tenant.id) if r["action"] == "user.locked"]
    assert len(locks) == 2


def _owner_with_mfa(
    server: InProcServer, engine: Engine, clock: ManualDateTime
) -> tuple[httpx.Client, Any, str]:
    accounts.create_user(engine, "boss@acme.test", PASSWORD)
    accounts.add_member(engine, "acme", "boss@acme.test", "owner")
    client = _client(server)
    first = _login(client, "boss@acme.test").json()
    csrf = first["csrf_token"]
    body = client.post("/auth/mfa/enroll", json={}, headers={"x-csrf-token": csrf}).json()
    totp = pyotp.TOTP(body["secret"])
    confirmed = client.post(
        "/auth/mfa/confirm", json={"code": totp.at(clock())}, headers={"x-csrf-token": csrf}
    )
    assert confirmed.status_code == 200, confirmed.text
    return client, totp, confirmed.json()["csrf_token"]


def test_step_up_guesses_are_limited_and_audited(
    server: InProcServer, engine: Engine, totp_clock: ManualDateTime
) -> None:
    client, totp, csrf = _owner_with_mfa(server, engine, totp_clock)
    try:
        good = totp.at(totp_clock() + timedelta(seconds=30))
        wrong = "000000" if good != "000000" else "111111"
        answers = [
            client.post("/auth/step-up", json={"code": wrong}, headers={"x-csrf-token": csrf}).status_code
            for _ in range(5)
        ]
        assert answers == [401] * 5
        # The session is gone: even the right code cannot be used with it any more.
        after = client.post("/auth/step-up", json={"code": good}, headers={"x-csrf-token": csrf})
        assert after.status_code == 401
        assert client.get("/auth/me").status_code == 401
    finally:
        client.close()
    failures = [r for r in audit.export(engine, server.tenant.id) if r["action"] == "user.step_up_failed"]
    assert len(failures) == 5


def _login_form(client: httpx.Client) -> dict[str, str]:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return {"email": "ana@acme.test", "password": PASSWORD, "csrf_token": token}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),  # a sibling subdomain that planted the cookie
        ({"Origin": "https://evil.example"}, 403),
        ({"Sec-Fetch-Site": "same-origin"}, 303),
        ({}, 303),
    ],
)
def test_login_csrf_from_another_site_is_refused_even_with_a_planted_cookie(
    server: InProcServer, engine: Engine, headers: dict[str, str], status: int
) -> None:
    accounts.create_user(engine, "ana@acme.test", PASSWORD)
    accounts.add_member(engine, "acme", "ana@acme.test", "analyst")
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as client:
        # The attacker's token and cookie, as if planted in the victim's browser: they match each other.
        form = _login_form(client)
        r = client.post("/login", data=form, headers=headers)
    assert r.status_code == status, r.text[:200]
    if status == 403:
        assert "only from this site" in r.text
