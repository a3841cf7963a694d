"""The customer list's search, filters and sort, and its CSV/Excel export, on a seeded demo shop.

Every answer is checked against a hand-written reference: correlated subqueries over the warehouse
(not the service's aggregate CTE) for the figures, and plain Python for filtering and ordering. The
export is checked against the page's own data (the API's JSON for the same filters), parsed back with
``csv`` and ``openpyxl``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from sqlalchemy import Engine

from ecomops.audit.service import export as audit_records
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy import vault
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in

PARAMS = SeedParams(days=60, customers=500, seed=5, end_date=date(2026, 11, 30))
#: Customers given personal data in the vault (the simulator stores none): index → (name, email, phone).
PII = {i: (f"张{i}号", f"buyer{i}@example.com", f"+86 138 0000 {i:04d}") for i in range(0, 40, 3)}

REFERENCE_SQL = """
SELECT c.customer_id, c.channel, c.country, c.region, c.city, c.first_seen_at, c.last_seen_at, c.signup_at,
       (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) AS orders,
       (SELECT coalesce(sum(o.total), 0) FROM orders o
         WHERE o.customer_id = c.customer_id AND o.status <> 'cancelled') AS spend,
       (SELECT count(*) FROM orders o
         WHERE o.customer_id = c.customer_id AND o.status <> 'cancelled') AS kept,
       (SELECT min(o.ordered_at) FROM orders o WHERE o.customer_id = c.customer_id) AS first_order,
       (SELECT max(o.ordered_at) FROM orders o WHERE o.customer_id = c.customer_id) AS last_order
FROM customers c
"""


@pytest.fixture
def shop(server: InProcServer, tmp_path: Path) -> Iterator[InProcServer]:
    state, tenant = server.state, server.tenant
    seed_demo(state.engine, state.warehouses.get(tenant.id), tenant, PARAMS, tmp_path / "manifest.json")
    ids = [r[0] for r in server.query("SELECT customer_id FROM customers ORDER BY customer_id")]
    with tenant_session(state.engine, tenant.id) as session:
        for i, (name, email, phone) in PII.items():
            vault.upsert_pii(session, tenant.id, ids[i], {"name": name, "email": email, "phone": phone})
    yield server


def reference(server: InProcServer) -> list[dict[str, Any]]:
    rows = []
    wh = server.state.warehouses.get(server.tenant.id)
    with wh.reading() as cur:
        rel = cur.execute(REFERENCE_SQL)
        names = [d[0] for d in rel.description]
        for values in rel.fetchall():
            row = dict(zip(names, values, strict=True))
            row["aov"] = row["spend"] / row["kept"] if row["kept"] else None
            rows.append(row)
    return rows


def local_day(at: datetime | None, tz: str) -> date | None:
    return at.astimezone(ZoneInfo(tz)).date() if at else None


SORT_FIELDS = {
    "last_seen": "last_seen_at",
    "signup": "signup_at",
    "customer_id": "customer_id",
    "region": "region",
    "orders": "orders",
    "spend": "spend",
    "aov": "aov",
    "first_order": "first_order",
    "last_order": "last_order",
}


def ordered(rows: list[dict[str, Any]], sort: str, order: str) -> list[str]:
    """Sort like the page promises: by the column, missing values last, ties by id in the same direction."""
    key = SORT_FIELDS[sort]
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    desc = order == "desc"
    present.sort(key=lambda r: (r[key], r["customer_id"]), reverse=desc)
    missing.sort(key=lambda r: r["customer_id"], reverse=desc)
    return [r["customer_id"] for r in present + missing]


def api(server: InProcServer, key: str) -> Callable[..., httpx.Response]:
    base = f"{server.url}/api/v1/t/{server.tenant.slug}/customers"

    def get(**params: Any) -> httpx.Response:
        return httpx.get(base, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    return get


def all_ids(get: Callable[..., httpx.Response], **params: Any) -> list[str]:
    ids: list[str] = []
    while True:
        page = get(limit=500, offset=len(ids), **params)
        assert page.status_code == 200, page.text
        body = page.json()
        ids += [i["customer_id"] for i in body["items"]]
        if len(ids) >= body["total"]:
            assert len(ids) == body["total"]
            return ids


def test_filters_and_sorts_match_a_hand_written_query(shop: InProcServer) -> None:
    rows = reference(shop)
    tz = shop.tenant.timezone
    analyst = tenancy.create_api_key(shop.state.engine, shop.tenant.slug, "analyst", "list")[1]
    get = api(shop, analyst)
    buyers = [r for r in rows if r["orders"]]
    assert len(rows) == 500 and len(buyers) > 30
    channel = max({r["channel"] for r in rows}, key=lambda c: sum(r["channel"] == c for r in rows))
    region = buyers[0]["region"]
    spends = sorted(r["spend"] for r in buyers)
    low, high = spends[len(spends) // 4], spends[3 * len(spends) // 4]
    days = sorted(local_day(r["last_order"], tz) for r in buyers)
    first, last = days[len(days) // 3], days[2 * len(days) // 3]
    cases: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
        ({}, lambda r: True),
        ({"channel": channel}, lambda r: r["channel"] == channel),
        ({"region": region, "min_orders": 1}, lambda r: r["region"] == region and r["orders"] >= 1),
        ({"min_spend": str(low), "max_spend": str(high)}, lambda r: low <= r["spend"] <= high),
        ({"min_orders": 2}, lambda r: r["orders"] >= 2),
        ({"max_orders": 0}, lambda r: r["orders"] == 0),
        (
            {"last_order_from": first.isoformat(), "last_order_to": last.isoformat()},
            lambda r: r["last_order"] is not None and first <= local_day(r["last_order"], tz) <= last,
        ),
        (
            {"first_order_to": first.isoformat(), "channel": channel},
            lambda r: (
                r["first_order"] is not None
                and local_day(r["first_order"], tz) <= first
                and r["channel"] == channel
            ),
        ),
        ({"q": "c00001"}, lambda r: "c00001" in r["customer_id"]),
    ]
    for params, keep in cases:
        expected = ordered([r for r in rows if keep(r)], "last_seen", "desc")
        assert all_ids(get, **params) == expected, params
    for sort in SORT_FIELDS:
        for order in ("asc", "desc"):
            got = all_ids(get, sort=sort, order=order, min_orders=1)
            assert got == ordered(buyers, sort, order), (sort, order)
    # Figures of a page row equal the reference's.
    top = get(sort="spend", order="desc", limit=1).json()["items"][0]
    ref = next(r for r in rows if r["customer_id"] == top["customer_id"])
    assert (
        Decimal(top["spend"]) == ref["spend"].quantize(Decimal("0.01"))
        and top["orders_count"] == ref["orders"]
    )
    assert Decimal(top["aov"]) == Decimal(ref["aov"]).quantize(Decimal("0.01"))
    assert datetime.fromisoformat(top["first_order_at"]) == ref["first_order"]


def test_bad_parameters_are_422_naming_the_field(shop: InProcServer) -> None:
    analyst = tenancy.create_api_key(shop.state.engine, shop.tenant.slug, "analyst", "list")[1]
    get = api(shop, analyst)
    for params, field in (
        ({"sort": "price"}, "sort"),
        ({"order": "up"}, "order"),
        ({"min_orders": "-1"}, "min_orders"),
        ({"min_spend": "lots"}, "min_spend"),
        ({"first_order_from": "2026-13-01"}, "first_order_from"),
        ({"min_orders": "5", "max_orders": "2"}, "min_orders"),
        ({"last_order_from": "2026-11-02", "last_order_to": "2026-11-01"}, "last_order_from"),
        ({"format": "pdf"}, "format"),
    ):
        answer = get(**params)
        assert answer.status_code == 422, (params, answer.text)
        assert field in answer.text, (params, answer.text)
    # Searching by an address needs the PII permission (the answer tells who is a customer).
    denied = get(q="buyer3@example.com")
    assert denied.status_code == 403 and "customers:read_pii" in denied.text


def test_search_by_email_and_phone_uses_the_blind_index_and_is_audited(shop: InProcServer) -> None:
    engine, slug = shop.state.engine, shop.tenant.slug
    admin = tenancy.create_api_key(engine, slug, "admin", "search")[1]
    get = api(shop, admin)
    ids = [r[0] for r in shop.query("SELECT customer_id FROM customers ORDER BY customer_id")]
    by_email = get(q="BUYER9@example.com").json()
    assert [i["customer_id"] for i in by_email["items"]] == [ids[9]]
    assert by_email["items"][0]["pii"]["email"] == "b***@example.com"  # still masked
    by_phone = get(q="+86 138-0000-0012").json()
    assert [i["customer_id"] for i in by_phone["items"]] == [ids[12]]
    # A search combines with filters; a part of an address matches nothing (exact blind index only).
    assert get(q="buyer9@example.com", channel="no-such-channel").json()["total"] == 0
    assert get(q="buyer9@").json()["total"] == 0
    lookups = [r for r in audit_records(engine, shop.tenant.id) if r["action"] == "customer.pii_lookup"]
    assert [r["details"]["by"] for r in lookups] == [["email"], ["phone"], ["email"], ["email"]]
    assert "buyer9" not in str(lookups)


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # Excel reads the BOM as "this is UTF-8"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _money(value: str | None) -> Decimal | None:
    return Decimal(value).quantize(Decimal("0.01")) if value is not None else None


def test_exports_equal_the_page_data_and_are_audited(shop: InProcServer, engine: Engine) -> None:
    add_member(engine, "ana@acme.test", "analyst")
    tz = ZoneInfo(shop.tenant.timezone)
    filters = {"min_orders": "1", "sort": "spend", "order": "desc"}
    analyst = tenancy.create_api_key(engine, shop.tenant.slug, "analyst", "export")[1]
    items = api(shop, analyst)(limit=500, **filters).json()["items"]
    assert len(items) > 30
    expected = [
        [
            i["customer_id"],
            i["pii"]["name"] if i["pii"] else None,
            i["pii"]["email"] if i["pii"] else None,
            i["channel"],
            i["orders_count"],
            _money(i["spend"]),
            _money(i["aov"]),
            i["currency"],
            datetime.fromisoformat(i["last_order_at"]).astimezone(tz).replace(tzinfo=None, microsecond=0),
        ]
        for i in items
    ]
    assert any(row[1] for row in expected)  # some rows carry (masked) names
    with signed_in(shop, "ana@acme.test") as (client, _):
        client.cookies.set("eco_lang", "zh_CN")
        page = client.get("/t/acme/customers", params=filters)
        assert page.status_code == 200
        assert 'data-export="csv"' in page.text and 'data-export="xlsx"' in page.text
        assert "format=csv" in page.text and "min_orders=1" in page.text
        csv_answer = client.get("/t/acme/customers", params={**filters, "format": "csv"})
        xlsx_answer = client.get("/t/acme/customers", params={**filters, "format": "xlsx"})
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    table = _csv_rows(csv_answer.content)
    header = table[0]
    assert header[:3] == ["客户 ID", "名称", "邮箱"] and f"最近下单 ({shop.tenant.timezone})" in header
    col = {name: header.index(name) for name in header}

    def from_csv(row: list[str]) -> list[Any]:
        last = row[col[f"最近下单 ({shop.tenant.timezone})"]]
        return [
            row[0],
            row[1] or None,
            row[2] or None,
            row[col["渠道"]] or None,
            int(row[col["订单数量"]]),
            Decimal(row[col["消费金额"]]),
            Decimal(row[col["客单价"]]) if row[col["客单价"]] else None,
            row[col["币种"]] or None,
            datetime.fromisoformat(last),
        ]

    assert [from_csv(r) for r in table[1:]] == expected
    book = openpyxl.load_workbook(io.BytesIO(xlsx_answer.content), read_only=True)
    sheet = book.worksheets[0]
    sheet_rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [str(h) for h in sheet_rows[0]] == header
    from_xlsx = [
        [
            r[0],
            r[1],
            r[2],
            r[col["渠道"]],
            r[col["订单数量"]],
            _money(str(r[col["消费金额"]])),
            _money(str(r[col["客单价"]])) if r[col["客单价"]] is not None else None,
            r[col["币种"]],
            r[col[f"最近下单 ({shop.tenant.timezone})"]],
        ]
        for r in sheet_rows[1:]
    ]
    assert from_xlsx == expected
    assert isinstance(sheet_rows[1][col["订单数量"]], int)  # numbers stay numbers in Excel
    exports = [r for r in audit_records(engine, shop.tenant.id) if r["action"] == "customers.export"]
    assert [(r["actor"], r["target_id"], r["details"]["rows"], r["details"]["pii"]) for r in exports] == [
        ("user:ana@acme.test", "csv", len(items), "masked"),
        ("user:ana@acme.test", "xlsx", len(items), "masked"),
    ]
    assert exports[0]["details"]["filters"] == {"min_orders": "1", "sort": "spend"}  # order: the default


def test_console_page_filters_sorts_and_refuses_pii_search_without_permission(
    shop: InProcServer, engine: Engine
) -> None:
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(shop, "ana@acme.test") as (client, _):
        page = client.get("/t/acme/customers", params={"sort": "orders", "order": "desc", "min_orders": "1"})
        assert page.status_code == 200 and 'aria-sort="descending"' in page.text
        bad = client.get("/t/acme/customers", params={"max_spend": "-3"})
        assert bad.status_code == 422 and "max_spend" in bad.text
        denied = client.get("/t/acme/customers", params={"q": "buyer3@example.com"})
        assert denied.status_code == 403 and "customers:read_pii" in denied.text
        bad_format = client.get("/t/acme/customers", params={"format": "pdf"})
        assert bad_format.status_code == 422 and "format must be csv or xlsx" in bad_format.text
