"""Consents: append-only history where the latest decision per purpose wins, marketing eligibility,
suppression by blind index, tenant isolation — on SQLite and PostgreSQL; plus the HTTP API and CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from ecomops.audit.service import export
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.privacy import consents, vault
from ecomops.privacy.cli.privacy import privacy_app
from ecomops.privacy.models import Consent
from ecomops.tenancy import service as tenancy
from tests.backends import empty_store_engine, pg_schema_url, store_engine, store_url
from tests.conftest import InProcServer

__all__ = ["empty_store_engine", "pg_schema_url", "store_engine", "store_url"]

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
runner = CliRunner()


def test_history_is_appended_and_the_latest_decision_per_purpose_wins(store_engine: Engine) -> None:
    tenant = tenancy.create_tenant(store_engine, "acme")
    record = consents.record_consent
    record(store_engine, tenant.id, "c1", "marketing_email", True, "checkout_form", at=T0)
    record(store_engine, tenant.id, "c1", "personalisation", True, "signup", at=T0 + timedelta(minutes=1))
    record(
        store_engine, tenant.id, "c1", "marketing_email", False, "unsubscribe_link", at=T0 + timedelta(days=2)
    )
    record(
        store_engine, tenant.id, "c1", "marketing_sms", True, "customer_service", at=T0 + timedelta(days=3)
    )

    history = consents.consent_history(store_engine, tenant.id, "c1")
    assert [(r.purpose, r.granted, r.source) for r in history] == [
        ("marketing_email", True, "checkout_form"),
        ("personalisation", True, "signup"),
        ("marketing_email", False, "unsubscribe_link"),
        ("marketing_sms", True, "customer_service"),
    ]
    current = consents.current_consents(store_engine, tenant.id, "c1")
    assert {p: r.granted for p, r in current.items()} == {
        "marketing_email": False,
        "personalisation": True,
        "marketing_sms": True,
    }
    email = consents.marketing_allowed(store_engine, tenant.id, "c1", "marketing_email")
    assert not email.allowed and "withdrawn" in email.reason
    assert consents.marketing_allowed(store_engine, tenant.id, "c1", "marketing_sms").allowed
    assert not consents.marketing_allowed(store_engine, tenant.id, "nobody", "marketing_sms").allowed

    # Nothing was overwritten: four rows, each one audited with purpose and decision (no PII).
    with tenant_session(store_engine, tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == 4
    audited = export(store_engine, tenant.id, action="consent.set")
    assert [(r["target_id"], r["details"]["purpose"], r["details"]["granted"]) for r in audited] == [
        ("c1", "marketing_email", True),
        ("c1", "personalisation", True),
        ("c1", "marketing_email", False),
        ("c1", "marketing_sms", True),
    ]


def test_a_later_grant_after_a_withdrawal_counts_again(store_engine: Engine) -> None:
    tenant = tenancy.create_tenant(store_engine, "acme")
    consents.record_consent(store_engine, tenant.id, "c1", "marketing_email", False, "api", at=T0)
    consents.record_consent(
        store_engine, tenant.id, "c1", "marketing_email", True, "api", at=T0 + timedelta(1)
    )
    assert consents.marketing_allowed(store_engine, tenant.id, "c1", "marketing_email").allowed


def test_invalid_input_is_refused_with_the_field(store_engine: Engine) -> None:
    tenant = tenancy.create_tenant(store_engine, "acme")
    with pytest.raises(ValidationFailed, match="unknown consent purpose 'newsletter'") as info:
        consents.record_consent(store_engine, tenant.id, "c1", "newsletter", True, "api")
    assert info.value.details["field"] == "purpose"
    with pytest.raises(ValidationFailed, match="consent source") as info:
        consents.record_consent(store_engine, tenant.id, "c1", "analytics", True, "Check Out Form")
    assert info.value.details["field"] == "source"
    with pytest.raises(ValidationFailed, match="customer id") as info:
        consents.record_consent(store_engine, tenant.id, "has space", "analytics", True, "api")
    with pytest.raises(ValidationFailed, match="not a marketing purpose"):
        consents.marketing_allowed(store_engine, tenant.id, "c1", "analytics")


def test_consents_of_one_tenant_are_invisible_to_another(store_engine: Engine) -> None:
    acme = tenancy.create_tenant(store_engine, "acme")
    other = tenancy.create_tenant(store_engine, "other")
    consents.record_consent(store_engine, acme.id, "c1", "marketing_email", True, "api")
    assert consents.consent_history(store_engine, other.id, "c1") == []
    assert not consents.marketing_allowed(store_engine, other.id, "c1", "marketing_email").allowed


def test_suppressed_contact_data_blocks_marketing_for_any_customer_id(store_engine: Engine) -> None:
    tenant = tenancy.create_tenant(store_engine, "acme")
    with tenant_session(store_engine, tenant.id) as session:
        vault.upsert_pii(
            session, tenant.id, "old", {"email": "Ann@Example.com", "phone": "+86 138 1234 5678"}
        )
        indexes = vault.blind_indexes(session, tenant.id, "old")
        assert indexes is not None
        assert (
            consents.suppress_blind_indexes(session, tenant.id, {"email": indexes["email"]}, "erasure") == 1
        )
        # Idempotent: the same index again adds nothing.
        assert (
            consents.suppress_blind_indexes(session, tenant.id, {"email": indexes["email"]}, "erasure") == 0
        )
        # The same address, typed differently, under a new customer id (a re-identify after erasure).
        vault.upsert_pii(session, tenant.id, "new", {"email": "  ann@example.COM "})
        vault.upsert_pii(session, tenant.id, "stranger", {"email": "bob@example.com"})
    for customer in ("new", "stranger"):
        consents.record_consent(store_engine, tenant.id, customer, "marketing_email", True, "signup")
    blocked = consents.marketing_allowed(store_engine, tenant.id, "new", "marketing_email")
    assert not blocked.allowed and "suppressed" in blocked.reason
    assert consents.marketing_allowed(store_engine, tenant.id, "stranger", "marketing_email").allowed
    # Only the keyed blind index is stored, never the address.
    with system_session(store_engine, "test: read suppressions") as session:
        from ecomops.privacy.models import MarketingSuppression

        rows = session.scalars(select(MarketingSuppression)).all()
    assert [(r.kind, r.blind_index) for r in rows] == [("email", indexes["email"])]
    assert all("example" not in r.blind_index for r in rows)


# -- HTTP API and CLI -----------------------------------------------------------------------------


def _api(server: InProcServer, role: str) -> httpx.Client:
    _, key = tenancy.create_api_key(server.state.engine, server.tenant.slug, role, f"consents-{role}")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/{server.tenant.slug}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_consent_api_records_and_lists_with_the_right_permissions(server: InProcServer) -> None:
    with _api(server, "operator") as operator, _api(server, "viewer") as viewer:
        created = operator.post(
            "/customers/c-42/consents",
            json={"purpose": "marketing_sms", "granted": True, "source": "phone_call"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["recorded_by"].startswith("api_key:")
        operator.post("/customers/c-42/consents", json={"purpose": "marketing_sms", "granted": False})

        denied = viewer.post("/customers/c-42/consents", json={"purpose": "analytics", "granted": True})
        assert denied.status_code == 403
        assert denied.json()["error"]["details"]["permission"] == "consents:write"

        bad = operator.post("/customers/c-42/consents", json={"purpose": "spam", "granted": True})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == ["body", "purpose"]

        listed = viewer.get("/customers/c-42/consents")
        assert listed.status_code == 200
        body = listed.json()
        assert [h["granted"] for h in body["history"]] == [True, False]
        assert body["current"]["marketing_sms"]["source"] == "api"
        assert body["marketing"]["marketing_sms"]["allowed"] is False


def test_consent_cli_set_and_list(engine: Engine, tenant: TenantInfo) -> None:
    result = runner.invoke(
        privacy_app,
        ["consent", "set", "--tenant", "acme", "--customer", "c7", "--purpose", "marketing_email", "--grant"],
    )
    assert result.exit_code == 0, result.output
    assert "marketing_email granted for c7" in result.output
    result = runner.invoke(
        privacy_app,
        [
            "consent",
            "set",
            "--tenant",
            "acme",
            "--customer",
            "c7",
            "--purpose",
            "marketing_email",
            "--withdraw",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(privacy_app, ["consent", "list", "--tenant", "acme", "--customer", "c7", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [h["granted"] for h in data["history"]] == [True, False]
    assert data["history"][0]["recorded_by"].startswith("cli:")
    assert data["marketing"]["marketing_email"]["allowed"] is False
    result = runner.invoke(
        privacy_app,
        ["consent", "set", "--tenant", "acme", "--customer", "c7", "--purpose", "fax", "--grant"],
    )
    assert result.exit_code == 1
    assert "unknown consent purpose 'fax'" in result.output


@pytest.mark.postgres
def test_privacy_tables_are_protected_by_row_level_security(pg_schema_url: str) -> None:
    """Raw SQL as the application role, no ecomops code in between: only the set tenant's rows show."""
    import psycopg

    from ecomops.platform.store.db import make_engine
    from ecomops.platform.store.migrate import upgrade
    from ecomops.privacy import requests as privacy_requests
    from ecomops.privacy import retention

    engine = make_engine(pg_schema_url)
    try:
        upgrade(engine)
        ids = {}
        for slug in ("alpha", "beta"):
            t = tenancy.create_tenant(engine, slug)
            ids[slug] = t.id
            consents.record_consent(engine, t.id, "c1", "analytics", True, "api")
            privacy_requests.create_request(engine, t.id, "export", "c1", "customer_id")
            retention.set_policy(
                engine,
                t.id,
                events_days=30,
                events_action="drop",
                dead_letters_days=None,
                reject_files_days=None,
            )
            with tenant_session(engine, t.id) as session:
                consents.suppress_blind_indexes(session, t.id, {"email": f"{slug}-bidx"}, "erasure")
    finally:
        engine.dispose()
    tables = ("consents", "privacy_requests", "marketing_suppressions", "retention_policies")
    with psycopg.connect(pg_schema_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for table in tables:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (ids["alpha"],))
        for table in tables:
            rows = conn.execute(f"SELECT DISTINCT tenant_id FROM {table}").fetchall()
            assert rows == [(ids["alpha"],)], table
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO consents (id, tenant_id, customer_id, purpose, granted, source, recorded_by, "
                "recorded_at) VALUES ('cns_x', %s, 'c2', 'analytics', true, 'api', 'x', now())",
                (ids["beta"],),
            )
