"""The overview's tables as files (``/t/{slug}/?export=<table>&format=``): each holds the rows of the
metrics call the page makes for it (the same as ``GET …/metrics``), in the page's range and view; the
view is also checked against hand-written SQL. Audited as ``overview.<table>.export``."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from sqlalchemy import Engine

from ecomops.audit.service import export as audit_records
from ecomops.simulate.service import seed_demo
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.console.test_overview_views import FROM, SEED, TO, _reference

WINDOW = {"range": "custom", "from": str(FROM), "to": str(TO)}


def _csv(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _metrics(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/t/acme/metrics", params={"from": str(FROM), "to": str(TO), **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["totals"]  # type: ignore[no-any-return]


def _num(value: Any) -> str:
    return "" if value is None else str(value)


def test_overview_tables_export_the_pages_rows(server: InProcServer, engine: Engine, data_dir: Path) -> None:
    tenant = server.tenant
    warehouse = server.state.warehouses.get(tenant.id)
    seed_demo(engine, warehouse, tenant, SEED, data_dir / "manifest.json")
    add_member(engine, "analyst@acme.test", "analyst")
    with signed_in(server, "analyst@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/", params={**WINDOW, "view": "device"})
        links = set(re.findall(r'href="(/t/acme/\?[^"]*format=csv)"', page.text))
        files = {
            table: _csv(client.get(html.unescape(link)))
            for link in links
            for table in re.findall(r"export=(\w+)", link)
        }
        assert set(files) == {"channels", "products", "campaigns", "view"}
        xlsx = client.get("/t/acme/", params={**WINDOW, "view": "region", "export": "view", "format": "xlsx"})
        bad = client.get("/t/acme/", params={**WINDOW, "export": "funnel", "format": "csv"})
        assert bad.status_code == 422 and "unknown table" in bad.text
        bad_range = client.get(
            "/t/acme/",
            params={"range": "custom", "from": "2026-13-01", "export": "products", "format": "csv"},
        )
        assert bad_range.status_code == 422
        products = _metrics(client, ids="gmv,orders", breakdown="product", limit=10, compare="false")
        channels = _metrics(client, ids="gmv,orders,buyers", breakdown="channel", limit=12)
        campaigns = _metrics(
            client, ids="ad_spend,attributed_revenue,roas", breakdown="campaign", limit=10, compare="false"
        )
        view = _metrics(client, ids="gmv,orders,visitors,conversion_rate", breakdown="device", limit=15)

    assert files["products"][0] == ["#", "Product ID", "Product", "GMV", "Orders", "Currency"]
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in files["products"][1:]] == [
        (str(i), p["breakdown_value"], p["values"]["gmv"], str(p["values"]["orders"]), "CNY")
        for i, p in enumerate(products, start=1)
    ]
    names = dict(re.findall(r'<tr data-product="([^"]+)">.*?<a href="[^"]*">([^<]+)</a>', page.text, re.S))
    assert {r[1]: r[2] for r in files["products"][1:]} == {k: html.unescape(v) for k, v in names.items()}

    def change(row: dict[str, Any]) -> str:
        c = row["previous_period_change"]["gmv"]
        return _num(c["change"]) if c["comparable"] else ""

    assert files["channels"][0][:6] == ["Channel ID", "Channel", "GMV", "Orders", "Buyers", "GMV vs previous"]
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in files["channels"][1:]] == [
        (
            c["breakdown_value"],
            c["values"]["gmv"],
            str(c["values"]["orders"]),
            str(c["values"]["buyers"]),
            change(c),
        )
        for c in channels
    ]
    assert [r[:4] for r in files["campaigns"][1:]] == [
        [
            c["breakdown_value"],
            _num(c["values"]["ad_spend"]),
            _num(c["values"]["attributed_revenue"]),
            _num(c["values"]["roas"]),
        ]
        for c in campaigns
    ]
    assert len(files["campaigns"]) > 1

    # The view against the API and against SQL written by hand over the raw tables.
    assert files["view"][0][:5] == ["Device type", "Visitors", "Orders", "GMV", "Conversion rate"]
    assert [r[0] for r in files["view"][1:]] == [v["breakdown_value"] for v in view]
    cur = warehouse.cursor()
    try:
        by_device = _reference(cur, "device", tenant.timezone)
        by_region = _reference(cur, "region", tenant.timezone)
    finally:
        cur.close()
    for value, visitors, orders, gmv, rate, *_ in files["view"][1:]:
        ref = by_device[value]
        assert (int(orders), Decimal(gmv)) == (ref["orders"], ref["gmv"]), value
        if ref["visitors"] is not None:
            assert int(visitors) == ref["visitors"] and float(rate) == ref["conversion_rate"], value
    sheet = list(
        openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert sheet[0][0] == "Region / province"
    top = sorted(by_region, key=lambda k: (-by_region[k]["gmv"], k))[:15]
    assert [r[0] for r in sheet[1:]] == top
    assert [(r[2], Decimal(str(r[3]))) for r in sheet[1:]] == [
        (by_region[k]["orders"], by_region[k]["gmv"]) for k in top
    ]

    records = [r for r in audit_records(engine, tenant.id) if r["action"].startswith("overview.")]
    assert sorted((r["action"], r["target_id"], r["details"]["rows"]) for r in records) == sorted(
        [
            ("overview.products.export", "csv", len(products)),
            ("overview.channels.export", "csv", len(channels)),
            ("overview.campaigns.export", "csv", len(campaigns)),
            ("overview.view.export", "csv", len(view)),
            ("overview.view.export", "xlsx", len(top)),
        ]
    )
    assert {r["details"]["filters"]["from"] for r in records} == {str(FROM)}
