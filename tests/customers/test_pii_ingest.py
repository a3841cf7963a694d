"""PII through the real server: identify traits end up only in the vault, encrypted; the customers
API masks them unless a role allowed to reveal asks to, and every reveal is audited."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from sqlalchemy import Engine

from ecomops.audit.service import export
from ecomops.ingest.loader import load_pending
from ecomops.ingest.pii import vault_sink, wal_sealer
from ecomops.ingest.wal import TenantWal
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.privacy import vault
from ecomops.privacy.models import CustomerPII
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer

EMAIL = "ann.lee.secret@example.com"
PHONE = "13812345678"
NAME = "李安娜"
STREET = "南京东路 99 号"
DEAD_EMAIL = "dead.letter.person@example.com"


def _send_identity(server: InProcServer) -> None:
    batch = [
        {
            "type": "identify",
            "userId": "cust-ann",
            "messageId": "id-1",
            "traits": {
                "email": EMAIL,
                "phone": PHONE,
                "name": NAME,
                "address": {"street": STREET, "city": "上海"},
                "plan": "gold",
            },
        },
        {
            # Segment SDKs repeat the user's traits in context.traits on every call.
            "type": "track",
            "event": "Product Viewed",
            "userId": "cust-ann",
            "messageId": "tr-1",
            "context": {"traits": {"email": EMAIL, "loyalty": "vip"}},
            "properties": {"product_id": "p1"},
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "cust-ann",
            "messageId": "oc-1",
            "properties": {"order_id": "A1", "revenue": "199.50", "currency": "CNY"},
        },
        {
            "type": "identify",
            "userId": "cust-bob",
            "messageId": "id-2",
            "traits": {"email": "bob@example.com"},
        },
        # Refused (no messageId): kept as a dead letter, whose raw payload holds PII too.
        {"type": "identify", "userId": "cust-dl", "traits": {"email": DEAD_EMAIL}},
    ]
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": batch})
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 4 and len(r.json()["rejected"]) == 1


def _all_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_identify_pii_reaches_only_the_vault_encrypted(server: InProcServer, data_dir: Path) -> None:
    _send_identity(server)
    # Before loading: the acknowledged WAL lines carry the PII only as ciphertext.
    wal_files = _all_bytes(data_dir / "wal")
    assert wal_files and any(b'"pii":"' in content for content in wal_files.values())
    rows = server.query(
        "SELECT message_id, traits::VARCHAR, context::VARCHAR FROM events ORDER BY message_id"
    )
    by_id = {r[0]: r for r in rows}
    assert orjson.loads(by_id["id-1"][1]) == {"plan": "gold"}
    assert orjson.loads(by_id["tr-1"][2]) == {"traits": {"loyalty": "vip"}}
    assert by_id["id-2"][1] is None

    engine, tenant_id = server.state.engine, server.tenant.id
    with tenant_session(engine, tenant_id) as s:
        assert vault.get_pii(s, tenant_id, "cust-ann") == {
            "email": EMAIL,
            "phone": PHONE,
            "name": NAME,
            "address": orjson.dumps({"city": "上海", "street": STREET}, option=orjson.OPT_SORT_KEYS).decode(),
        }
        assert vault.find_customer_ids(s, tenant_id, email=EMAIL.upper()) == ["cust-ann"]
        assert s.query(CustomerPII).count() == 2

    # Make every store write its pages to the files, then look at every byte under the data dir.
    server.state.warehouses.get(tenant_id).query("CHECKPOINT")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    # The dead letter's payload is sealed at rest, yet readable (audited) through the API.
    admin = tenancy.create_api_key(engine, server.tenant.slug, "admin", "dl-reader")[1]
    url = f"{server.url}/api/v1/t/{server.tenant.slug}/ingest/dead-letters"
    headers = {"Authorization": f"Bearer {admin}"}
    letters = httpx.get(url, headers=headers, timeout=30)
    assert letters.status_code == 200, letters.text
    assert DEAD_EMAIL not in letters.json()[0]["payload"] and "[masked]" in letters.json()[0]["payload"]
    revealed = httpx.get(url, headers=headers, params={"reveal": "true"}, timeout=30)
    assert DEAD_EMAIL in revealed.json()[0]["payload"]
    files = _all_bytes(data_dir)
    assert any(p.suffix == ".sqlite3" for p in files) and any(p.suffix == ".duckdb" for p in files)
    for needle in (EMAIL, PHONE, NAME, STREET, "bob@example.com", DEAD_EMAIL):
        hits = [str(p) for p, content in files.items() if needle.encode() in content]
        assert hits == [], f"{needle!r} found in clear text in {hits}"


def test_customers_api_masks_unless_revealed_by_an_allowed_role(server: InProcServer) -> None:
    _send_identity(server)
    server.query("SELECT 1")  # load what was acknowledged
    engine, slug = server.state.engine, server.tenant.slug
    analyst = tenancy.create_api_key(engine, slug, "analyst", "pii-analyst")[1]
    admin_info, admin = tenancy.create_api_key(engine, slug, "admin", "pii-admin")
    base = f"{server.url}/api/v1/t/{slug}/customers"

    def get(key: str, path: str = "", **params: str) -> httpx.Response:
        return httpx.get(base + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    page = get(analyst)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 2
    ann = next(i for i in body["items"] if i["customer_id"] == "cust-ann")
    assert ann["orders_count"] == 1 and ann["spend"] == "199.50"
    assert ann["pii"]["email"] == "a***@example.com"
    assert ann["pii"]["phone"] == "138****5678"
    assert ann["pii"]["name"] == "李**"
    assert ann["pii"]["address"] == "***"
    assert EMAIL not in page.text and PHONE not in page.text

    denied = get(analyst, reveal="true")
    assert denied.status_code == 403 and "customers:read_pii" in denied.text
    denied = get(analyst, "/cust-ann", reveal="true")
    assert denied.status_code == 403

    assert get(analyst, email=EMAIL).status_code == 403  # a lookup needs customers:read_pii
    by_email = get(admin, email=" Ann.Lee.Secret@EXAMPLE.com ")
    assert [i["customer_id"] for i in by_email.json()["items"]] == ["cust-ann"]
    assert by_email.json()["items"][0]["pii"]["email"] == "a***@example.com"
    by_phone = get(admin, phone="138-1234-5678")
    assert [i["customer_id"] for i in by_phone.json()["items"]] == ["cust-ann"]
    assert get(admin, email="nobody@example.com").json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }

    masked_profile = get(analyst, "/cust-ann")
    assert masked_profile.status_code == 200, masked_profile.text
    profile = masked_profile.json()
    assert profile["orders"]["orders_count"] == 1 and profile["orders"]["recent"][0]["order_id"] == "A1"
    assert profile["pii"]["email"] == "a***@example.com"
    assert [r for r in export(engine, server.tenant.id) if r["action"] == "customer.pii_read"] == []

    revealed = get(admin, "/cust-ann", reveal="true")
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["pii"]["email"] == EMAIL and revealed.json()["pii"]["phone"] == PHONE
    listed = get(admin, reveal="true", email=EMAIL)
    assert listed.json()["items"][0]["pii"]["name"] == NAME

    reads = [r for r in export(engine, server.tenant.id) if r["action"] == "customer.pii_read"]
    assert [(r["target_type"], r["target_id"]) for r in reads] == [
        ("customer", "cust-ann"),
        ("customer", "cust-ann"),
    ]
    assert {r["actor"] for r in reads} == {f"api_key:{admin_info.id}"}
    assert all(r["details"]["via"] == "api_key" and r["request_id"] for r in reads)

    assert get(admin, "/nobody").status_code == 404
    assert get(analyst, limit="0").status_code == 422


def test_a_line_whose_sealed_pii_is_damaged_is_quarantined(
    settings: Settings, engine: Engine, tenant: TenantInfo, tmp_path: Path
) -> None:
    seal = wal_sealer(engine, tenant.id)

    def line(mid: str, user: str, pii: dict[str, str]) -> bytes:
        row = {
            "message_id": mid,
            "type": "identify",
            "user_id": user,
            "ts": 1_700_000_000_000_000,
            "received_at": 1_700_000_000_000_000,
            "source_id": "s",
            "channel": "web",
            "pii": seal(mid, orjson.dumps(pii)),
        }
        return orjson.dumps(row) + b"\n"

    good = line("m-good", "u-good", {"email": "good@example.com"})
    bad = line("m-bad", "u-bad", {"email": "bad@example.com"})
    moved = line("m-moved", "u-moved", {"email": "moved@example.com"}).replace(b'"m-moved"', b'"m-other"')
    tampered = bad.replace(b'"pii":"', b'"pii":"AAAA')
    wal = TenantWal(tmp_path / "wal")
    wal.append("events", good + tampered + moved)
    wal.commit()
    wh = open_warehouse(tmp_path, tenant.id)
    try:
        load_pending(wal, wh, "CNY", pii_sink=vault_sink(engine)(tenant.id))
        assert wh.query("SELECT message_id FROM events") == [("m-good",)]
        reasons = [r[0] for r in wh.query("SELECT reason FROM ingest_dead_letters ORDER BY payload")]
        assert len(reasons) == 2 and all("cannot be opened" in r for r in reasons)
    finally:
        wh.close()
    with tenant_session(engine, tenant.id) as s:
        assert vault.get_pii(s, tenant.id, "u-good") == {"email": "good@example.com"}
        assert vault.get_pii(s, tenant.id, "u-bad") is None
        assert vault.get_pii(s, tenant.id, "m-other") is None
