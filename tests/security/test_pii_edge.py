"""Personal data never reaches the WAL, the warehouse or a dead-letter reader in clear (issue 10, "Weak:
PII outside the vault"), over real HTTP. Before: only exact lower-case trait keys were sealed, so
``Email``, ``EMAIL``, ``emailAddress``, ``contact.email``, ``Phone``, ``mobile_phone``, ``full_name``,
``lastname``, an order's ``email``/``phone``/``shipping_address``, an e-mail used as ``userId`` and
``?email=`` in page URLs were stored as sent, and dead letters were returned decrypted to analysts.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ecomops.platform.crypto.keyring import keyring
from ecomops.platform.crypto.pseudonym import pseudonymize_email
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy import vault
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

SECRETS = {
    "cap_email": "cap.email@example.com",
    "upper_email": "upper.email@example.com",
    "camel_email": "camel.email@example.com",
    "nested_email": "nested.email@example.com",
    "cap_phone": "13900001111",
    "snake_phone": "13900002222",
    "full_name": "Zhang Sanfeng",
    "lastname": "Xiaolongnv",
    "order_email": "order.buyer@example.com",
    "order_phone": "+44 20 7946 0958",
    "order_street": "88 Century Avenue",
    "user_email": "user.id.person@example.com",
    "url_email": "url.param.person@example.com",
    "value_email": "only.by.value@example.com",
    "dead_email": "dead.letter.pii@example.com",
}


def _batch() -> list[dict[str, object]]:
    s = SECRETS
    return [
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "m1",
            "traits": {
                "Email": s["cap_email"],
                "Phone": s["cap_phone"],
                "full_name": s["full_name"],
                "lastname": s["lastname"],
                "contact": {"email": s["nested_email"], "mobile_phone": s["snake_phone"]},
                "backup": s["value_email"],
                "plan": "gold",
            },
        },
        {"type": "identify", "userId": "u2", "messageId": "m2", "traits": {"EMAIL": s["upper_email"]}},
        {"type": "identify", "userId": "u3", "messageId": "m3", "traits": {"emailAddress": s["camel_email"]}},
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "messageId": "m4",
            "properties": {
                "order_id": "13800009999",  # phone-like order numbers are not personal data
                "total": "10.00",
                "currency": "CNY",
                "email": s["order_email"],
                "phone": s["order_phone"],
                "shipping_address": {"street": s["order_street"], "city": "Shanghai"},
                "products": [{"product_id": "p1", "name": "Tee", "price": "10.00", "quantity": 1}],
            },
        },
        {"type": "track", "event": "Signed Up", "userId": s["user_email"], "messageId": "m5"},
        {
            "type": "page",
            "anonymousId": "a1",
            "messageId": "m6",
            "context": {"page": {"url": f"https://shop.example/welcome?email={s['url_email']}&utm_source=x"}},
        },
        {"type": "identify", "userId": "u9", "traits": {"email": s["dead_email"]}},  # no messageId: dead
    ]


def _all_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_personal_data_in_any_spelling_reaches_only_the_vault(server: InProcServer, data_dir: Path) -> None:
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": _batch()})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 6 and len(r.json()["rejected"]) == 1
    rows = server.query("SELECT message_id, user_id, properties::VARCHAR, page_url FROM events ORDER BY 1")
    by_id = {row[0]: row for row in rows}
    engine, tenant_id = server.state.engine, server.tenant.id
    pseudonym = pseudonymize_email(keyring(engine).pseudonym_key(tenant_id), SECRETS["user_email"])
    assert by_id["m5"][1] == pseudonym  # the same id an import gives this buyer
    assert "13800009999" in by_id["m4"][2] and '"name":"Tee"' in by_id["m4"][2]
    assert by_id["m6"][3] == "https://shop.example/welcome?email=redacted&utm_source=x"
    with tenant_session(engine, tenant_id) as s:
        u1 = vault.get_pii(s, tenant_id, "u1")
        # An order's contact details fill only what the customer did not tell about themselves.
        assert u1["email"] == SECRETS["cap_email"] and u1["phone"] == SECRETS["cap_phone"]
        assert SECRETS["order_street"] in u1["address"]
        assert u1["name"] == SECRETS["full_name"] and u1["last_name"] == SECRETS["lastname"]
        assert vault.get_pii(s, tenant_id, "u2")["email"] == SECRETS["upper_email"]
        assert vault.get_pii(s, tenant_id, "u3")["email"] == SECRETS["camel_email"]
        assert vault.get_pii(s, tenant_id, pseudonym)["email"] == SECRETS["user_email"]

    server.state.warehouses.get(tenant_id).query("CHECKPOINT")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    files = _all_bytes(data_dir)
    assert any(p.suffix == ".duckdb" for p in files)
    for label, secret in SECRETS.items():
        hits = [str(p) for p, content in files.items() if secret.encode() in content]
        assert hits == [], f"{label} {secret!r} found in clear text in {hits}"


@pytest.mark.parametrize(
    ("role", "reveal", "status", "shown"),
    [
        ("analyst", False, 200, False),
        ("operator", False, 200, False),
        ("analyst", True, 403, False),
        ("admin", True, 200, True),
    ],
)
def test_dead_letters_are_masked_unless_revealed_by_a_pii_reader(
    server: InProcServer, role: str, reveal: bool, status: int, shown: bool
) -> None:
    with server.client() as c:
        dead = {"type": "identify", "userId": "u9", "traits": {"email": SECRETS["dead_email"], "tier": "vip"}}
        assert c.post("/v1/batch", json={"batch": [dead]}).status_code == 200
    key = tenancy.create_api_key(server.state.engine, server.tenant.slug, role, f"k-{role}")[1]
    r = httpx.get(
        f"{server.url}/api/v1/t/{server.tenant.slug}/ingest/dead-letters",
        headers={"Authorization": f"Bearer {key}"},
        params={"reveal": str(reveal).lower()},
        timeout=DEADLINE,
    )
    assert r.status_code == status, r.text
    if status == 200:
        payload = r.json()[0]["payload"]
        assert (SECRETS["dead_email"] in payload) is shown
        assert '"tier":"vip"' in payload  # the rest stays readable
