"""``ecomops user bootstrap --enroll-totp`` (what ``make demo`` runs): the secret printed once in the
terminal gives codes that sign the owner in through the real server, in one step after the password."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit import service as audit
from ecomops.cli import app
from tests.conftest import InProcServer
from tests.timing import ManualDateTime


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")
    monkeypatch.setenv("ECOMOPS_DEMO_SIGNIN_HINT", "1")  # as make demo serves


def bootstrap(*extra: str) -> str:
    args = ["user", "bootstrap", "--tenant", "acme", "--email", "owner@acme.test", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def sign_in(server: InProcServer, password: str, code: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        pending = client.post("/auth/login", json={"email": "owner@acme.test", "password": password})
        assert pending.status_code == 200, pending.text
        assert pending.json()["stage"] == "mfa"  # no enrolment step: MFA is already on
        csrf = {"x-csrf-token": pending.json()["csrf_token"]}
        done = client.post("/auth/mfa", json={"code": code}, headers=csrf)
        if done.status_code == 200:
            assert client.get("/api/v1/t/acme/imports").status_code == 200
        return done


def test_the_printed_secret_signs_the_owner_in_and_a_second_run_keeps_it(
    server: InProcServer, engine: Engine, totp_clock: ManualDateTime
) -> None:
    out = bootstrap("--reset-password", "--enroll-totp")
    password = re.search(r"password: (\S+)", out)
    secret = re.search(r"secret:\s+([A-Z2-7]{32})", out)
    uri = re.search(r"(otpauth://totp/\S+)", out)
    assert password and secret and uri, out
    assert f"secret={secret[1]}" in uri[1] and "issuer=ecomops" in uri[1]
    assert "▀" in out or "▄" in out  # the QR code, in half blocks
    totp = pyotp.TOTP(secret[1])
    assert sign_in(server, password[1], "000000").status_code == 401
    assert sign_in(server, password[1], totp.at(totp_clock())).json()["stage"] == "active"

    # make demo again: a new password, but the authenticator app set up before keeps working.
    again = bootstrap("--reset-password", "--enroll-totp")
    assert "secret:" not in again and "set up before" in again
    new_password = re.search(r"password: (\S+)", again)
    assert new_password and new_password[1] != password[1]
    later = totp.at(totp_clock() + timedelta(seconds=30))
    assert sign_in(server, new_password[1], later).status_code == 200

    enabled = [r for r in audit.export(engine, server.tenant.id) if r["action"] == "user.mfa_enabled"]
    assert len(enabled) == 1 and enabled[0]["details"]["via"] == "cli"


def test_enrolling_an_unknown_account_fails_like_the_api(server: InProcServer) -> None:
    result = CliRunner().invoke(
        app, ["user", "bootstrap", "--tenant", "nope", "--email", "x@acme.test", "--enroll-totp"]
    )
    assert result.exit_code == 1 and "404" in result.output


def test_the_demo_sign_in_pages_say_where_password_and_code_come_from(server: InProcServer) -> None:
    bootstrap("--enroll-totp")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert "printed in the terminal" in client.get("/login").text
        chinese = client.get("/login", headers={"accept-language": "zh-CN"}).text
        assert "终端打印的邮箱和密码" in chinese
