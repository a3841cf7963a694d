"""Console sessions reveal PII only with a fresh second factor (the TOTP secret is sealed by the keyring)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import Engine, update

from ecomops.audit.service import export
from ecomops.kernel.clock import utcnow
from ecomops.platform.store.db import session_scope
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy import vault
from ecomops.security import accounts
from ecomops.security.models import User, UserSession
from tests.conftest import InProcServer
from tests.timing import ManualDateTime

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def test_session_reveal_needs_fresh_mfa(
    server: InProcServer, engine: Engine, totp_clock: ManualDateTime
) -> None:
    tenant_id = server.tenant.id
    with tenant_session(engine, tenant_id) as s:
        vault.upsert_pii(s, tenant_id, "c-1", {"email": "zoe@example.com", "phone": "13700001234"})
    accounts.create_user(engine, "adm@acme.test", PASSWORD)
    accounts.add_member(engine, "acme", "adm@acme.test", "admin")
    with httpx.Client(base_url=server.url, timeout=30) as c:
        csrf = c.post("/auth/login", json={"email": "adm@acme.test", "password": PASSWORD}).json()[
            "csrf_token"
        ]
        secret = c.post("/auth/mfa/enroll", headers={"x-csrf-token": csrf}).json()["secret"]
        with session_scope(engine) as s:
            sealed = s.query(User).filter_by(email="adm@acme.test").one().mfa_secret
        assert sealed is not None and secret.encode() not in bytes(sealed)  # sealed under the system key
        totp = pyotp.TOTP(secret)
        confirmed = c.post(
            "/auth/mfa/confirm", json={"code": totp.at(totp_clock())}, headers={"x-csrf-token": csrf}
        )
        assert confirmed.status_code == 200, confirmed.text
        csrf = confirmed.json()["csrf_token"]

        fresh = c.get("/api/v1/t/acme/customers/c-1", params={"reveal": "true"})
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["pii"]["email"] == "zoe@example.com"

        with session_scope(engine) as s:
            s.execute(update(UserSession).values(mfa_at=utcnow() - timedelta(minutes=11)))
        stale = c.get("/api/v1/t/acme/customers/c-1", params={"reveal": "true"})
        assert stale.status_code == 403 and stale.json()["error"]["code"] == "step_up_required"
        masked = c.get("/api/v1/t/acme/customers/c-1")
        assert masked.status_code == 200 and masked.json()["pii"]["email"] == "z***@example.com"

        up = c.post(
            "/auth/step-up",
            json={"code": totp.at(totp_clock() + timedelta(seconds=30))},
            headers={"x-csrf-token": csrf},
        )
        assert up.status_code == 200, up.text
        again = c.get("/api/v1/t/acme/customers", params={"reveal": "true"})
        assert again.status_code == 200 and again.json()["items"] == []  # c-1 has no warehouse row
    reads = [r for r in export(engine, tenant_id) if r["action"] == "customer.pii_read"]
    assert [(r["actor"], r["target_id"], r["details"]["via"]) for r in reads] == [
        ("user:adm@acme.test", "c-1", "session")
    ]
