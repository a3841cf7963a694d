"""Finding customers by email or phone (issue 10): before, any role with ``customers:read`` — viewers
included — could ask ``?email=`` whether someone is a customer of the shop, and nothing recorded it."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from ecomops.audit.service import export
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

EMAIL = "celebrity@example.com"
PHONE = "13900001111"


def _customer(server: InProcServer) -> None:
    batch = [
        {
            "type": "identify",
            "userId": "cust-c",
            "messageId": "id-c",
            "traits": {"email": EMAIL, "phone": PHONE},
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "cust-c",
            "messageId": "oc-c",
            "properties": {"order_id": "C1", "revenue": "10.00", "currency": "CNY"},
        },
    ]
    with server.client() as c:
        assert c.post("/v1/batch", json={"batch": batch}).status_code == 200
    server.query("SELECT 1")  # load what was acknowledged


def test_a_viewer_cannot_test_whether_an_email_is_a_customer(server: InProcServer, engine: Engine) -> None:
    _customer(server)
    roles = ("viewer", "analyst", "admin")
    keys = {role: tenancy.create_api_key(engine, "acme", role, role) for role in roles}

    def search(role: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{server.url}/api/v1/t/acme/customers",
            params=params,
            headers={"Authorization": f"Bearer {keys[role][1]}"},
            timeout=DEADLINE,
        )

    for role in ("viewer", "analyst"):
        for params in ({"email": EMAIL}, {"email": "nobody@example.com"}, {"phone": PHONE}):
            r = search(role, **params)
            assert r.status_code == 403, (role, params, r.text)
            assert "customers:read_pii" in r.text and "cust-c" not in r.text
        assert search(role).status_code == 200  # the masked list itself stays readable
    assert export(engine, server.tenant.id, action="customer.pii_lookup") == []

    found = search("admin", email=EMAIL.upper())
    assert found.status_code == 200 and [i["customer_id"] for i in found.json()["items"]] == ["cust-c"]
    assert EMAIL not in found.text  # still masked: a lookup is not a reveal
    missing = search("admin", email="nobody@example.com")
    assert missing.status_code == 200 and missing.json()["total"] == 0
    by_phone = search("admin", phone="139-0000-1111")
    assert [i["customer_id"] for i in by_phone.json()["items"]] == ["cust-c"]

    lookups = export(engine, server.tenant.id, action="customer.pii_lookup")
    admin_id = keys["admin"][0].id
    assert [(r["actor"], r["target_type"], r["target_id"]) for r in lookups] == [
        (f"api_key:{admin_id}", "customer", "cust-c"),
        (f"api_key:{admin_id}", "customers", "search"),
        (f"api_key:{admin_id}", "customer", "cust-c"),
    ]
    assert [(r["details"]["by"], r["details"]["matches"]) for r in lookups] == [
        (["email"], 1),
        (["email"], 0),
        (["phone"], 1),
    ]
    assert all(r["details"]["via"] == "api_key" and r["request_id"] for r in lookups)
    assert all(EMAIL not in str(r) and "nobody@" not in str(r) and PHONE not in str(r) for r in lookups)
