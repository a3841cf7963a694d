"""Data-subject requests through the real server: export bundle contents, erasure leaving no PII in any
file while totals still count, suppression after erasure, permissions and step-up; and the CLI, both
through the server and on the files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export as audit_export
from ecomops.ingest.wal import TenantWal
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import NotFound, StepUpRequired, ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.registry import registry
from ecomops.platform.server import ServerInfo, remove_lock, write_lock
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.platform.web.deps import TenantContext
from ecomops.platform.web.stepup import require_step_up
from ecomops.privacy import api as privacy_api
from ecomops.privacy import compaction, consents, vault
from ecomops.privacy import requests as privacy_requests
from ecomops.privacy import runner as privacy_runner
from ecomops.privacy.cli.privacy import privacy_app
from ecomops.tenancy import service as tenancy
from tests.backends import empty_store_engine, pg_schema_url, store_engine, store_url
from tests.conftest import InProcServer

__all__ = ["empty_store_engine", "pg_schema_url", "store_engine", "store_url"]

runner = CliRunner()
EMAIL = "Ann.Erase@Example.com"
PHONE = "+86 138 0013 8000"
NAME = "Ann Erase-Zhang"
#: Every spelling of Ann's contact data that must not be found in any file after her erasure.
NEEDLES = (
    b"ann.erase@example.com",
    b"Ann.Erase@Example.com",
    b"13800138000",
    b"138 0013 8000",
    NAME.encode(),
)


def _events() -> list[dict[str, Any]]:
    ctx = {"ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (AnnPhone)"}
    return [
        {
            "type": "page",
            "anonymousId": "anon-ann",
            "messageId": "m-page",
            "timestamp": "2026-05-01T10:00:00Z",
            "properties": {"url": "https://shop.example/p/1?token=s3cr3t", "path": "/p/1"},
            "context": ctx,
        },
        {
            "type": "identify",
            "userId": "cust-ann",
            "anonymousId": "anon-ann",
            "messageId": "m-identify",
            "timestamp": "2026-05-01T10:01:00Z",
            "traits": {"email": EMAIL, "phone": PHONE, "name": NAME, "plan": "gold"},
            "context": ctx,
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "cust-ann",
            "messageId": "m-o1",
            "timestamp": "2026-05-01T10:05:00Z",
            "properties": {
                "order_id": "A1",
                "total": 100,
                "currency": "CNY",
                "email": "leaked-into-properties@example.org",
                "products": [{"product_id": "p1", "name": "Teapot", "price": 100, "quantity": 1}],
            },
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "cust-ann",
            "messageId": "m-o2",
            "timestamp": "2026-05-03T08:00:00Z",
            "properties": {"order_id": "A2", "total": 50, "currency": "CNY"},
        },
        {
            "type": "track",
            "event": "Order Refunded",
            "userId": "cust-ann",
            "messageId": "m-r2",
            "timestamp": "2026-05-04T08:00:00Z",
            "properties": {"order_id": "A2", "total": 20},
        },
        # Refused at the edge (negative quantity): a dead letter that names Ann.
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "cust-ann",
            "messageId": "m-bad",
            "properties": {"order_id": "A3", "products": [{"price": 3, "quantity": -1}]},
        },
        {
            "type": "identify",
            "userId": "cust-bob",
            "messageId": "m-bob",
            "traits": {"email": "bob@example.com", "phone": "+86 139 0000 0000"},
        },
        # Bob signs in on Ann's tablet later: same anonymousId, his user id. His row, not hers.
        {
            "type": "track",
            "event": "Product Viewed",
            "userId": "cust-bob",
            "anonymousId": "anon-ann",
            "messageId": "m-bob-tablet",
            "timestamp": "2026-05-05T08:00:00Z",
            "properties": {"product_id": "p9"},
            "context": {"ip": "198.51.100.9"},
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "cust-bob",
            "messageId": "m-ob",
            "timestamp": "2026-05-02T09:00:00Z",
            "properties": {"order_id": "B1", "total": 30, "currency": "CNY"},
        },
    ]


@pytest.fixture
def shop(server: InProcServer) -> InProcServer:
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": _events()})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 8
    server.state.services["ingest"].flush()
    consents.record_consent(
        server.state.engine, server.tenant.id, "cust-ann", "marketing_email", True, "signup"
    )
    consents.record_consent(
        server.state.engine, server.tenant.id, "cust-bob", "marketing_email", True, "signup"
    )
    return server


def _api(server: InProcServer, role: str = "owner") -> httpx.Client:
    _, key = tenancy.create_api_key(server.state.engine, server.tenant.slug, role, f"privacy-{role}")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/{server.tenant.slug}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture
def cli_server(shop: InProcServer, settings: Settings) -> Iterator[InProcServer]:
    """Make the in-process server discoverable by the CLI, as ``ecomops serve`` would."""
    write_lock(settings, ServerInfo(os.getpid(), shop.url, shop.state.control_token))
    yield shop
    remove_lock(settings, os.getpid())


# -- export -----------------------------------------------------------------------------------------


def test_export_bundle_holds_everything_about_the_customer_and_nothing_else(shop: InProcServer) -> None:
    with _api(shop) as api:
        r = api.post("/privacy/requests", json={"kind": "export", "email": "  ANN.ERASE@example.com"})
        assert r.status_code == 201, r.text
        request = r.json()
        assert (request["status"], request["subject"], request["lookup"]) == ("done", "cust-ann", "email")
        assert request["summary"]["warehouse_rows"]["orders"] == 2
        assert request["download_url"].endswith(f"/privacy/requests/{request['id']}/download")

        download = api.get(f"/privacy/requests/{request['id']}/download")
        assert download.status_code == 200
        assert download.headers["cache-control"] == "no-store"
        assert "attachment" in download.headers["content-disposition"]
        bundle = download.json()

    assert bundle["format"] == privacy_requests.BUNDLE_FORMAT
    assert bundle["customer_id"] == "cust-ann"
    assert bundle["pii"]["email"] == EMAIL
    assert bundle["pii"]["phone"] == PHONE
    assert bundle["pii"]["name"] == NAME
    assert bundle["consents"]["current"]["marketing_email"]["granted"] is True
    assert bundle["marketing"]["marketing_email"]["allowed"] is True
    rows = bundle["warehouse"]
    assert sorted(o["order_id"] for o in rows["orders"]) == ["A1", "A2"]
    assert {o["total"] for o in rows["orders"]} == {"100.0000", "50.0000"}
    assert [i["product_id"] for i in rows["order_items"]] == ["p1"]
    assert [(x["order_id"], x["amount"]) for x in rows["refunds"]] == [("A2", "20.0000")]
    assert [c["customer_id"] for c in rows["customers"]] == ["cust-ann"]
    # Events by user id and the anonymous page view before the identify (same anonymousId).
    assert sorted(e["message_id"] for e in rows["events"]) == ["m-identify", "m-o1", "m-o2", "m-page", "m-r2"]
    page = next(e for e in rows["events"] if e["message_id"] == "m-page")
    assert page["context"]["ip"] == "203.0.113.7"
    assert [json.loads(d["payload"])["messageId"] for d in rows["ingest_dead_letters"]] == ["m-bad"]
    # Bob is not in Ann's bundle.
    assert "cust-bob" not in json.dumps(bundle) and "bob@example.com" not in json.dumps(bundle)

    audited = audit_export(shop.state.engine, shop.tenant.id, action="privacy.*")
    assert [a["action"] for a in audited] == [
        "privacy.export_requested",
        "privacy.export_done",
        "privacy.export_downloaded",
    ]
    assert all(a["target_id"] == request["id"] for a in audited)
    assert "example.com" not in json.dumps(audited).lower()
    # At rest the bundle is sealed with the tenant's data key.
    assert b"ann.erase" not in _all_bytes(shop.state.settings.resolved_data_dir).lower()


def test_export_by_unknown_or_ambiguous_subject(shop: InProcServer) -> None:
    engine, tenant_id = shop.state.engine, shop.tenant.id
    with tenant_session(engine, tenant_id) as session:
        vault.upsert_pii(session, tenant_id, "cust-twin-1", {"email": "twin@example.com"})
        vault.upsert_pii(session, tenant_id, "cust-twin-2", {"email": "TWIN@example.com"})
    with _api(shop) as api:
        missing = api.post("/privacy/requests", json={"kind": "export", "customer_id": "nobody"})
        assert missing.status_code == 404
        assert "no data about customer 'nobody'" in missing.json()["error"]["message"]
        twins = api.post("/privacy/requests", json={"kind": "export", "email": "twin@example.com"})
        assert twins.status_code == 409
        assert twins.json()["error"]["details"]["customer_ids"] == ["cust-twin-1", "cust-twin-2"]
        both = api.post("/privacy/requests", json={"kind": "export", "customer_id": "x", "email": "a@b.c"})
        assert both.status_code == 422
        assert "exactly one of customer_id, email or phone" in both.json()["error"]["message"]
        assert api.get("/privacy/requests").json() == []  # nothing was recorded for refused requests


def test_roles_without_the_permission_are_refused(shop: InProcServer) -> None:
    with _api(shop, "analyst") as analyst, _api(shop, "admin") as admin, _api(shop, "operator") as operator:
        r = analyst.post("/privacy/requests", json={"kind": "export", "customer_id": "cust-ann"})
        assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "customers:read_pii"
        r = operator.post("/privacy/requests", json={"kind": "erasure", "customer_id": "cust-ann"})
        assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "privacy:erase"
        done = admin.post("/privacy/requests", json={"kind": "export", "customer_id": "cust-ann"}).json()
        r = analyst.get(f"/privacy/requests/{done['id']}/download")
        assert r.status_code == 403


def test_step_up_is_required_for_a_console_session(shop: InProcServer) -> None:
    """People in the console need a fresh TOTP for export and erasure; machine credentials do not."""
    base = TenantContext(shop.tenant, "usr_1", "owner", via="session")
    for action in ("privacy export", "privacy erasure"):
        with pytest.raises(StepUpRequired) as info:
            require_step_up(base, action)
        assert info.value.details["action"] == action
        with pytest.raises(StepUpRequired):
            require_step_up(replace(base, mfa_at=utcnow() - timedelta(minutes=11)), action)
        require_step_up(replace(base, mfa_at=utcnow() - timedelta(minutes=1)), action)
        require_step_up(replace(base, via="api_key"), action)
    # The route asks before doing anything: nothing is recorded for the refused session.
    for kind in ("export", "erasure"):
        body = privacy_api.PrivacyRequestIn(kind=kind, customer_id="cust-ann")
        with pytest.raises(StepUpRequired):
            asyncio.run(privacy_api.post_request(body, base, shop.state))
    with pytest.raises(StepUpRequired):
        asyncio.run(privacy_api.download_bundle("prq_x", base, shop.state))
    assert privacy_requests.list_requests(shop.state.engine, shop.tenant.id) == []


# -- erasure ----------------------------------------------------------------------------------------


def test_erasure_leaves_no_pii_anywhere_and_totals_still_count(
    shop: InProcServer, settings: Settings
) -> None:
    engine, tenant_id = shop.state.engine, shop.tenant.id
    data_dir = settings.resolved_data_dir
    wal_dir = settings.wal_dir() / tenant_id
    totals_before = shop.query("SELECT count(*), sum(total) FROM orders")
    refunds_before = shop.query("SELECT count(*), sum(amount) FROM refunds")
    events_before = shop.query("SELECT count(*) FROM events")
    assert b"cust-ann" in _all_bytes(wal_dir)  # the raw lines are still in the WAL segment

    with _api(shop) as api:
        exported = api.post("/privacy/requests", json={"kind": "export", "customer_id": "cust-ann"}).json()
        r = api.post("/privacy/requests", json={"kind": "erasure", "phone": "008613800138000"})
        assert r.status_code == 201, r.text
        erasure = r.json()
        assert (erasure["status"], erasure["subject"], erasure["error"]) == ("done", "cust-ann", None)
        summary = erasure["summary"]
        assert summary["vault_erased"] is True
        assert summary["suppressed"] == 2  # email and phone blind indexes
        assert summary["consents_withdrawn"] == 1
        assert summary["export_bundles_dropped"] == 1
        assert summary["warehouse"]["dead_letters_deleted"] == 1
        assert summary["warehouse"]["orders"] == 2
        assert summary["compaction"] == privacy_requests.COMPACT_LATER
        assert compaction.pending_tenants(settings.warehouse_dir()) == [tenant_id]
        # The earlier export's bundle went with the customer.
        gone = api.get(f"/privacy/requests/{exported['id']}/download")
        assert gone.status_code == 404

    # Same totals, now under a tombstone that links to nobody.
    assert shop.query("SELECT count(*), sum(total) FROM orders") == totals_before
    assert shop.query("SELECT count(*), sum(amount) FROM refunds") == refunds_before
    assert shop.query("SELECT count(*) FROM events") == events_before
    owners = shop.query("SELECT DISTINCT customer_id FROM orders WHERE order_id IN ('A1', 'A2')")
    assert len(owners) == 1 and owners[0][0].startswith("erased_")
    tomb = owners[0][0]
    assert shop.query("SELECT customer_id FROM customers WHERE customer_id = ?", [tomb]) == [(tomb,)]
    assert shop.query("SELECT count(*) FROM orders WHERE customer_id = 'cust-bob'") == [(1,)]
    not_bobs = "message_id <> 'm-bob-tablet'"
    for table, column, extra in (
        ("events", "user_id", not_bobs),
        ("events", "anonymous_id", not_bobs),
        ("orders", "customer_id", "TRUE"),
        ("orders", "anonymous_id", "TRUE"),
    ):
        for value in ("cust-ann", "anon-ann"):
            sql = f"SELECT count(*) FROM {table} WHERE {column} = ? AND {extra}"
            assert shop.query(sql, [value]) == [(0,)], (table, column, value)
    anon = shop.query("SELECT DISTINCT anonymous_id FROM events WHERE message_id = 'm-page'")[0][0]
    assert anon.startswith("erased_") and anon != tomb
    scrubbed = shop.query(
        "SELECT traits, context, page_url, properties FROM events WHERE user_id = ? OR anonymous_id = ? "
        "ORDER BY message_id",
        [tomb, anon],
    )
    assert len(scrubbed) == 5
    assert all(t is None and c is None for t, c, _, _ in scrubbed)
    assert all(u is None or "?" not in u for _, _, u, _ in scrubbed)
    assert all("leaked-into-properties" not in (p or "") for *_, p in scrubbed)
    # Products in the order properties are analytics, not personal data: kept.
    assert any("Teapot" in (p or "") for *_, p in scrubbed)
    assert shop.query("SELECT count(*) FROM ingest_dead_letters WHERE payload LIKE '%cust-ann%'") == [(0,)]
    # Bob's row from the shared tablet is his: untouched.
    bob = shop.query(
        "SELECT user_id, anonymous_id, context_full(events) FROM events WHERE message_id = 'm-bob-tablet'"
    )
    assert bob[0][:2] == ("cust-bob", "anon-ann") and json.loads(bob[0][2])["ip"] == "198.51.100.9"

    # Vault, consents, suppression.
    with tenant_session(engine, tenant_id) as session:
        assert vault.get_pii(session, tenant_id, "cust-ann") is None
        assert vault.find_customer_ids(session, tenant_id, email=EMAIL) == []
    current = consents.current_consents(engine, tenant_id, "cust-ann")
    assert (current["marketing_email"].granted, current["marketing_email"].source) == (False, "erasure")
    assert consents.marketing_allowed(engine, tenant_id, "cust-bob", "marketing_email").allowed

    # No file in the data dir holds Ann's contact data or name, and the ingest WAL no longer names her.
    everything = _all_bytes(data_dir)
    for needle in NEEDLES:
        assert needle not in everything, needle
    assert b"cust-ann" not in _all_bytes(wal_dir)
    assert b"anon-ann" not in _all_bytes(wal_dir)

    audited = audit_export(engine, tenant_id, action="privacy.erasure*")
    assert [a["action"] for a in audited] == ["privacy.erasure_requested", "privacy.erasure_done"]
    assert audited[1]["details"]["vault_erased"] is True
    text = json.dumps(audited, ensure_ascii=False)
    assert not any(n.decode() in text for n in NEEDLES) and "example.com" not in text.lower()


def test_suppression_keeps_a_reidentified_address_out_of_marketing(shop: InProcServer) -> None:
    engine, tenant_id = shop.state.engine, shop.tenant.id
    with _api(shop) as api:
        r = api.post("/privacy/requests", json={"kind": "erasure", "customer_id": "cust-ann"})
        assert r.json()["status"] == "done"
    # She comes back on another device (new id), same address typed differently, and ticks the box.
    again = {
        "type": "identify",
        "userId": "cust-ann-2",
        "messageId": "m-again",
        "traits": {"email": " ann.erase@EXAMPLE.com "},
    }
    with shop.client() as c:
        assert c.post("/v1/batch", json={"batch": [again]}).json()["accepted"] == 1
    shop.state.services["ingest"].flush()
    with tenant_session(engine, tenant_id) as session:
        assert vault.find_customer_ids(session, tenant_id, email=EMAIL) == ["cust-ann-2"]
    consents.record_consent(engine, tenant_id, "cust-ann-2", "marketing_email", True, "signup")
    verdict = consents.marketing_allowed(engine, tenant_id, "cust-ann-2", "marketing_email")
    assert not verdict.allowed and "suppressed" in verdict.reason
    with _api(shop, "viewer") as viewer:
        body = viewer.get("/customers/cust-ann-2/consents").json()
        assert body["current"]["marketing_email"]["granted"] is True
        assert body["marketing"]["marketing_email"]["allowed"] is False


def test_a_visitor_known_only_by_anonymous_id_is_exported_and_erased(shop: InProcServer) -> None:
    """No userId ever: the vault keys the PII by the anonymousId, and so must the request."""
    zoe = [
        {
            "type": "identify",
            "anonymousId": "anon-zoe",
            "messageId": "z1",
            "traits": {"email": "zoe@example.net"},
        },
        {"type": "page", "anonymousId": "anon-zoe", "messageId": "z2", "properties": {"path": "/cart"}},
    ]
    with shop.client() as c:
        assert c.post("/v1/batch", json={"batch": zoe}).json()["accepted"] == 2
    shop.state.services["ingest"].flush()
    with _api(shop) as api:
        exported = api.post("/privacy/requests", json={"kind": "export", "email": "zoe@example.net"}).json()
        assert exported["subject"] == "anon-zoe"
        bundle = api.get(exported["download_url"].removeprefix(f"/api/v1/t/{shop.tenant.slug}")).json()
        assert sorted(e["message_id"] for e in bundle["warehouse"]["events"]) == ["z1", "z2"]
        erased = api.post("/privacy/requests", json={"kind": "erasure", "email": "zoe@example.net"}).json()
        assert erased["status"] == "done" and erased["summary"]["vault_erased"] is True
    rows = shop.query("SELECT DISTINCT anonymous_id FROM events WHERE message_id IN ('z1', 'z2')")
    assert len(rows) == 1 and rows[0][0].startswith("erased_")


def test_a_failed_erasure_is_recorded_and_can_be_run_again(
    shop: InProcServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(privacy_requests, "erase_warehouse", broken)
    with _api(shop) as api:
        failed = api.post("/privacy/requests", json={"kind": "erasure", "customer_id": "cust-ann"}).json()
        assert (failed["status"], failed["error"]) == ("failed", "RuntimeError: disk on fire")
        with tenant_session(shop.state.engine, shop.tenant.id) as session:
            assert vault.get_pii(session, shop.tenant.id, "cust-ann") is not None  # nothing half-done
        monkeypatch.undo()
        done = api.post("/privacy/requests", json={"kind": "erasure", "customer_id": "cust-ann"}).json()
        assert done["status"] == "done"
        listed = api.get("/privacy/requests", params={"kind": "erasure"}).json()
        assert [x["status"] for x in listed] == ["done", "failed"]
    actions = [a["action"] for a in audit_export(shop.state.engine, shop.tenant.id, action="privacy.*")]
    assert "privacy.request_failed" in actions


# -- CLI ----------------------------------------------------------------------------------------------


def test_cli_export_and_erase_through_the_running_server(cli_server: InProcServer, tmp_path: Path) -> None:
    out = tmp_path / "ann.json"
    result = runner.invoke(
        privacy_app, ["export", "--tenant", "acme", "--email", EMAIL, "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["requested_by"] == "local-cli"  # the server ran it, for the CLI
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bundle = json.loads(out.read_text("utf-8"))
    assert bundle["pii"]["phone"] == PHONE and len(bundle["warehouse"]["orders"]) == 2

    refused = runner.invoke(privacy_app, ["erase", "--tenant", "acme", "--customer", "cust-ann"], input="n\n")
    assert refused.exit_code == 1
    result = runner.invoke(
        privacy_app, ["erase", "--tenant", "acme", "--customer", "cust-ann", "--yes", "--json"]
    )
    assert result.exit_code == 0, result.output
    erased = json.loads(result.stdout)
    assert erased["summary"]["vault_erased"] is True
    assert erased["summary"]["compaction"] == privacy_requests.COMPACT_LATER  # the server has the file open
    assert cli_server.query("SELECT count(*) FROM orders WHERE customer_id = 'cust-ann'") == [(0,)]

    # What is still held about the id afterwards: the consent history (proof), nothing personal.
    after = runner.invoke(privacy_app, ["export", "--tenant", "acme", "--customer", "cust-ann"])
    assert after.exit_code == 0, after.output
    remaining = json.loads(after.output)
    assert (remaining["pii"], remaining["warehouse"]) == ({}, {})
    assert [c["granted"] for c in remaining["consents"]["history"]] == [True, False]
    missing = runner.invoke(privacy_app, ["export", "--tenant", "acme", "--customer", "nobody"])
    assert missing.exit_code == 1
    assert "no data about customer 'nobody'" in missing.output
    listed = runner.invoke(privacy_app, ["requests", "--tenant", "acme", "--json"])
    assert [r["kind"] for r in json.loads(listed.output)] == ["export", "erasure", "export"]


def test_cli_erase_without_a_server_works_on_the_files(
    engine: Engine, tenant: TenantInfo, settings: Settings
) -> None:
    with tenant_session(engine, tenant.id) as session:
        vault.upsert_pii(
            session, tenant.id, "c-local", {"email": "local@example.net", "phone": "13911112222"}
        )
    consents.record_consent(engine, tenant.id, "c-local", "marketing_sms", True, "pos")
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        with wh.write() as cur:
            cur.execute(
                "INSERT INTO orders (order_id, customer_id, status, ordered_at, currency, subtotal, total) "
                "VALUES ('L1', 'c-local', 'paid', TIMESTAMPTZ '2026-01-02 03:04:05+00', 'CNY', 12, 12)"
            )
            cur.execute(
                "INSERT INTO customers (customer_id, attributes) VALUES ('c-local', '{\"vip\": true}')"
            )
            cur.execute(
                "INSERT INTO reviews (review_id, order_id, customer_id, rating, title, body, created_at) "
                "VALUES ('rv1', 'L1', 'c-local', 2, 'Late', 'Call me on 13911112222', "
                "TIMESTAMPTZ '2026-01-05 00:00:00+00')"
            )
    finally:
        wh.close()
    # An acknowledged event line the loader has not moved yet (a server was killed before loading it).
    wal = TenantWal(settings.wal_dir() / tenant.id)
    line = {
        "message_id": "m-left",
        "type": "track",
        "event": "Product Viewed",
        "user_id": "c-local",
        "ts": 1_767_312_000_000_000,
        "received_at": 1_767_312_000_000_000,
        "properties": "{}",
    }
    wal.append("events", json.dumps(line).encode() + b"\n")
    wal.commit()
    wal.close()

    result = runner.invoke(
        privacy_app, ["erase", "--tenant", "acme", "--email", "LOCAL@example.net", "--yes", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["requested_by"].startswith("cli:") and data["status"] == "done"  # ran here
    assert data["summary"]["warehouse"]["reviews_ids_replaced"] == 1
    assert data["summary"]["compaction"] == privacy_requests.COMPACT_NOW
    assert rewritten_bytes(result.output)[1] > 0
    assert compaction.pending_tenants(settings.warehouse_dir()) == []

    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        (tomb,) = wh.query("SELECT customer_id FROM orders WHERE order_id = 'L1'")[0]
        assert tomb.startswith("erased_")
        assert wh.query("SELECT customer_id, title, body, rating FROM reviews") == [(tomb, None, None, 2)]
        assert wh.query("SELECT attributes FROM customers WHERE customer_id = ?", [tomb]) == [(None,)]
        # The event left in the WAL was loaded first, then re-keyed with the rest.
        assert wh.query("SELECT user_id FROM events WHERE message_id = 'm-left'") == [(tomb,)]
    finally:
        wh.close()
    assert list((settings.wal_dir() / tenant.id).iterdir()) == []
    everything = _all_bytes(settings.resolved_data_dir)
    for needle in (b"local@example.net", b"13911112222"):
        assert needle not in everything, needle
    assert not consents.marketing_allowed(engine, tenant.id, "c-local", "marketing_sms").allowed


# -- compaction and bookkeeping -----------------------------------------------------------------------


def test_duckdb_keeps_freed_values_until_the_file_is_rewritten(
    engine: Engine, tenant: TenantInfo, settings: Settings
) -> None:
    """Why compaction exists: a nulled value is still in the file after CHECKPOINT and close."""
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        cur.execute(
            "INSERT INTO reviews (review_id, customer_id, rating, body, created_at) "
            "VALUES ('rv', 'c9', 5, 'write to me at nine@example.org', now())"
        )
        cur.execute(
            "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total) "
            "VALUES ('K1', 'paid', now(), 'CNY', 7, 7)"
        )
    wh.con.execute("CHECKPOINT")
    with wh.write() as cur:
        cur.execute("UPDATE reviews SET body = NULL")
    wh.con.execute("CHECKPOINT")
    wh.close()
    path = settings.warehouse_dir() / f"{tenant.id}.duckdb"
    assert b"nine@example.org" in path.read_bytes()  # DuckDB did not zero the old segment

    compaction.mark_pending(settings.warehouse_dir(), tenant.id)
    done = compaction.compact_pending(settings.warehouse_dir())
    assert list(done) == [tenant.id]
    assert b"nine@example.org" not in path.read_bytes()
    assert compaction.pending_tenants(settings.warehouse_dir()) == []
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        assert wh.query("SELECT review_id, body, rating FROM reviews") == [("rv", None, 5)]
        with pytest.raises(duckdb.ConstraintException), wh.write() as cur:  # keys survive the rewrite
            cur.execute(
                "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total) "
                "VALUES ('K1', 'paid', now(), 'CNY', 7, 7)"
            )
    finally:
        wh.close()


@pytest.fixture
def marked_residue(engine: Engine, tenant: TenantInfo, settings: Settings) -> Path:
    """A closed warehouse holding a freed value, marked for compaction (as a server erasure leaves it)."""
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        cur.execute(
            "INSERT INTO reviews (review_id, rating, body, created_at) "
            "VALUES ('rv', 1, 'ring 13722223333', now())"
        )
    wh.con.execute("CHECKPOINT")
    with wh.write() as cur:
        cur.execute("UPDATE reviews SET body = NULL")
    wh.close()
    compaction.mark_pending(settings.warehouse_dir(), tenant.id)
    path = settings.warehouse_dir() / f"{tenant.id}.duckdb"
    assert b"13722223333" in path.read_bytes()
    return path


def test_the_server_compacts_marked_warehouses_when_it_starts(
    marked_residue: Path, server: InProcServer
) -> None:
    assert b"13722223333" not in marked_residue.read_bytes()
    assert compaction.pending_tenants(server.state.settings.warehouse_dir()) == []
    assert server.query("SELECT review_id, body FROM reviews") == [("rv", None)]


def test_compaction_runs_first_and_the_cli_refuses_while_a_server_runs(cli_server: InProcServer) -> None:
    # Privacy starts first, before any module opens a warehouse file.
    starting = [m for m in registry().modules if m.startup is not None]
    assert starting[0].name == "privacy" and starting[0].startup is privacy_runner.startup
    result = runner.invoke(privacy_app, ["compact", "--tenant", "acme"])
    assert result.exit_code == 1
    assert "has the warehouse open; stop it" in result.output


def test_request_bookkeeping_on_both_backends(store_engine: Engine) -> None:
    tenant = tenancy.create_tenant(store_engine, "acme")
    other = tenancy.create_tenant(store_engine, "other")
    first = privacy_requests.create_request(store_engine, tenant.id, "export", "c1", "customer_id")
    second = privacy_requests.create_request(store_engine, tenant.id, "erasure", "c1", "email")
    assert (first.status, first.requested_by) == ("queued", first.requested_by)
    assert [r.id for r in privacy_requests.list_requests(store_engine, tenant.id)] == [second.id, first.id]
    assert [r.id for r in privacy_requests.list_requests(store_engine, tenant.id, kind="export")] == [
        first.id
    ]
    assert privacy_requests.list_requests(store_engine, other.id) == []  # tenant isolation
    with pytest.raises(NotFound):
        privacy_requests.get_request(store_engine, other.id, first.id)
    with pytest.raises(ValidationFailed, match="only exports have a download"):
        privacy_requests.read_bundle(store_engine, tenant.id, second.id)
    with pytest.raises(NotFound, match="has no bundle"):
        privacy_requests.read_bundle(store_engine, tenant.id, first.id)
    with pytest.raises(ValidationFailed, match="unknown request kind"):
        privacy_requests.create_request(store_engine, tenant.id, "rectify", "c1", "customer_id")
    # A restart finds both queued requests of a stopped process and fails them with a reason.
    elsewhere = privacy_requests.create_request(store_engine, other.id, "export", "c1", "customer_id")
    assert privacy_requests.fail_interrupted(store_engine, [tenant.id]) == 2
    failed = privacy_requests.get_request(store_engine, tenant.id, first.id)
    assert failed.status == "failed" and "stopped before it finished" in (failed.error or "")
    assert privacy_requests.fail_interrupted(store_engine, [tenant.id]) == 0
    # Another host's tenant (warehouse not in this data dir) is left alone.
    assert privacy_requests.get_request(store_engine, other.id, elsewhere.id).status == "queued"
    audited = [a["action"] for a in audit_export(store_engine, tenant.id, action="privacy.*")]
    assert audited == ["privacy.export_requested", "privacy.erasure_requested"]


def rewritten_bytes(output: str) -> tuple[int, int]:
    """The warehouse sizes (before, after) a command without a server reports after rewriting the file."""
    found = re.search(r"warehouse rewritten: ([\d,]+) -> ([\d,]+) bytes", output)
    assert found is not None, output
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))
