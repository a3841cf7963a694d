"""Helpers for the console tests: people with roles, signed-in HTTP clients (owners with TOTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pyotp
import pytest
from sqlalchemy import Engine

from ecomops.security import accounts
from tests.conftest import InProcServer, LiveServer

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Console tests sign in several people from one address; the per-IP limit has its own tests."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def add_member(engine: Engine, email: str, role: str, tenant: str = "acme") -> None:
    accounts.create_user(engine, email, PASSWORD)
    accounts.add_member(engine, tenant, email, role)


@contextmanager
def signed_in(
    server: InProcServer | LiveServer, email: str, **headers: str
) -> Iterator[tuple[httpx.Client, str]]:
    """A client with a finished session (TOTP enrolled first for roles that need it) and its CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=30, headers=headers)
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    csrf = body["csrf_token"]
    if body["stage"] == "enroll":
        enrolment = client.post("/auth/mfa/enroll", json={}, headers={"x-csrf-token": csrf}).json()
        totp = pyotp.TOTP(enrolment["secret"])
        confirmed = client.post(
            "/auth/mfa/confirm", json={"code": totp.now()}, headers={"x-csrf-token": csrf}
        )
        assert confirmed.status_code == 200, confirmed.text
        csrf = confirmed.json()["csrf_token"]
    try:
        yield client, csrf
    finally:
        client.close()
