"""Sessions presets: UCI Online Shoppers rows become page/track events, placed deterministically, and
session conversion by month, traffic type and visitor type equals a pandas computation on the file."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomops.analytics import sessions as analytics_sessions
from ecomops.audit.service import export as audit_records
from ecomops.cli import app
from ecomops.imports.presets import sessions as session_preset
from ecomops.kernel.errors import ValidationFailed
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, LiveServer
from tests.console.conftest import add_member, signed_in
from tests.imports.conftest import FIXTURES, Importer, read_rejects
from tests.imports.test_api import _auth, _upload, _wait
from tests.timing import DEADLINE

SAMPLE = FIXTURES / "online_shoppers" / "online_shoppers_sample.csv"
REFERENCE = "2017-12-31"
MONTH_NUMBERS = {"Feb": 2, "Mar": 3, "May": 5, "June": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10,
                 "Nov": 11, "Dec": 12}  # fmt: skip
VISITOR_TYPES = {"Returning_Visitor": "returning", "New_Visitor": "new", "Other": "other"}


def _expected(by: str) -> dict[str, tuple[int, int]]:
    """Sessions and purchases per value of ``by``, computed by pandas from the file itself."""
    frame = pd.read_csv(SAMPLE)
    frame["month"] = frame.Month.map(lambda m: f"2017-{MONTH_NUMBERS[m]:02d}")
    frame["traffic_type"] = frame.TrafficType.astype(str)
    frame["visitor_type"] = frame.VisitorType.map(VISITOR_TYPES)
    grouped = frame.groupby(by).Revenue.agg(["count", "sum"])
    return {str(k): (int(r["count"]), int(r["sum"])) for k, r in grouped.iterrows()}


def test_event_names_match_the_analytics_contract() -> None:
    assert session_preset.SESSION_STARTED == analytics_sessions.SESSION_STARTED_EVENT
    assert session_preset.SESSION_CONVERTED == analytics_sessions.SESSION_CONVERTED_EVENT


def test_uci_sample_loads_every_row_once(importer: Importer) -> None:
    summary = importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    frame = pd.read_csv(SAMPLE)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (len(frame), len(frame), 0)
    pages = int((frame.Administrative + frame.Informational + frame.ProductRelated).sum())
    counts = dict(importer.query("SELECT coalesce(event, type), count(*) FROM events GROUP BY ALL"))
    assert counts == {
        "Session Started": len(frame),
        "page": pages,
        "Session Converted": int(frame.Revenue.sum()),
    }
    assert summary.inserted["events"] == len(frame) + pages + int(frame.Revenue.sum())
    assert importer.one("SELECT count(DISTINCT anonymous_id) FROM events") == len(frame)

    again = importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    assert (again.rows_loaded, again.rows_duplicate, again.inserted["events"]) == (0, len(frame), 0)
    assert importer.one("SELECT count(*) FROM events") == summary.inserted["events"]


def test_placement_respects_month_weekend_and_duration(importer: Importer) -> None:
    importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    frame = pd.read_csv(SAMPLE)
    # The importer's tenant zone: local times are what the placement rules speak of.
    zone = importer.tenant.timezone
    rows = importer.query(
        """SELECT json_extract_string(properties, '$.month'), json_extract_string(properties, '$.weekend'),
                  CAST(timezone(?, ts) AS DATE), CAST(json_extract(properties, '$.seconds') AS DOUBLE),
                  session_id
           FROM events WHERE event = 'Session Started'""",
        [zone],
    )
    months = sorted(m for m, *_ in rows)
    assert months == sorted(f"2017-{MONTH_NUMBERS[m]:02d}" for m in frame.Month)
    weekend_flags = sorted(w == "true" for _, w, *_ in rows)
    assert weekend_flags == sorted(bool(w) for w in frame.Weekend)
    for month, weekend, day, _, _ in rows:
        assert day.strftime("%Y-%m") == month and (day.isoweekday() >= 6) == (weekend == "true")
    # Every page and the purchase fall inside the session, on its local day.
    outside = importer.one(
        """SELECT count(*) FROM events e JOIN events s ON s.session_id = e.session_id
           AND s.event = 'Session Started'
           WHERE e.ts < s.ts OR e.ts > s.ts + to_microseconds(CAST(1e6 * CAST(json_extract(s.properties,
                 '$.seconds') AS DOUBLE) AS BIGINT)) + INTERVAL 1 SECOND
              OR CAST(timezone(?, e.ts) AS DATE) <> CAST(timezone(?, s.ts) AS DATE)""",
        [zone, zone],
    )
    assert outside == 0


@pytest.mark.parametrize("breakdown", ["month", "traffic_type", "visitor_type"])
def test_conversion_equals_pandas(importer: Importer, breakdown: str) -> None:
    importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    cur = importer.warehouse.cursor()
    try:
        result = analytics_sessions.compute(cur, breakdown, None, None, importer.tenant.timezone)
    finally:
        cur.close()
    expected = _expected(breakdown)
    assert {r.value: (r.sessions, r.converted) for r in result.rows} == expected
    for row in result.rows:
        sessions, converted = expected[row.value]
        assert row.conversion_rate == pytest.approx(converted / sessions, abs=1e-12)
    frame = pd.read_csv(SAMPLE)
    assert (result.total.sessions, result.total.converted) == (len(frame), int(frame.Revenue.sum()))
    assert result.total.conversion_rate == pytest.approx(frame.Revenue.mean(), abs=1e-12)


def test_rejects_point_at_row_and_column(importer: Importer, tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")

    def edited(line: str, **changes: str) -> str:
        cells = line.split(",")
        for column, value in changes.items():
            cells[header.index(column)] = value
        return ",".join(cells)

    bad = tmp_path / "shoppers.csv"
    bad.write_text(
        "\n".join(
            [
                lines[0],
                lines[1],
                edited(lines[2], Month="Foo"),
                edited(lines[3], ProductRelated="-2", Revenue="maybe"),
                edited(lines[4], Administrative_Duration="-5"),
                edited(lines[5], Weekend="sometimes"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    summary = importer.run([bad], "uci-online-shoppers", reference_date=REFERENCE)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (5, 1, 4)
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in read_rejects(summary)] == [
        ("2", "Month", "Foo", "not a month (Jan…Dec, full names such as June, or 1–12)"),
        ("3", "Revenue", "maybe", "not a true/false value (true/false, yes/no, 1/0)"),
        ("3", "ProductRelated", "-2", "must not be negative"),
        ("4", "Administrative_Duration", "-5", "duration must not be negative (-1 means unknown)"),
        ("5", "Weekend", "sometimes", "not a true/false value (true/false, yes/no, 1/0)"),
    ]
    assert importer.one("SELECT count(DISTINCT session_id) FROM events") == 1


def test_reference_date_is_required_without_a_start_time(importer: Importer) -> None:
    with pytest.raises(ValidationFailed, match="reference date"):
        importer.run([SAMPLE], "uci-online-shoppers")
    assert importer.one("SELECT count(*) FROM events") == 0


def test_generic_sessions_mapping_with_timestamps(importer: Importer, tmp_path: Path) -> None:
    data = tmp_path / "visits.csv"
    data.write_text(
        "visit,start,home,home_s,product,product_s,src,kind,bought,amount\n"
        "v1,2024-03-01 10:00:00,1,10,2,40,google,new,yes,19.90\n"
        "v2,2024-03-02 11:00:00,0,0,1,5,email,returning,no,\n",
        encoding="utf-8",
    )
    mapping = """
source: shop
timezone: UTC
columns:
  session_id: visit
  started_at: start
  pages: {home: home, product: product}
  durations: {home: home_s, product: product_s}
  traffic_source: src
  visitor_type: kind
  purchased: bought
  revenue: amount
"""
    summary = importer.run([data], "sessions", mapping=mapping)
    assert (summary.rows_loaded, summary.rows_rejected) == (2, 0)
    events = importer.query(
        "SELECT coalesce(event, page_path), strftime(ts, '%H:%M:%S'), utm_source, revenue FROM events "
        "WHERE session_id = (SELECT session_id FROM events WHERE revenue IS NOT NULL) ORDER BY ts, 1"
    )
    assert [(e, t, s, None if r is None else str(r)) for e, t, s, r in events] == [
        ("/home", "10:00:00", "google", None),
        ("Session Started", "10:00:00", "google", None),
        ("/product", "10:00:10", "google", None),
        ("/product", "10:00:30", "google", None),
        ("Session Converted", "10:00:50", "google", "19.9000"),
    ]
    with pytest.raises(ValidationFailed, match=r"columns\.pages"):
        importer.run([data], "sessions", mapping="columns: {purchased: bought, started_at: start}")


def test_cli_and_api(importer: Importer) -> None:
    importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    importer.warehouse.close()
    result = CliRunner().invoke(
        app, ["sessions", "--tenant", "acme", "--breakdown", "visitor_type", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    assert {r["value"]: (r["sessions"], r["converted"]) for r in answer["rows"]} == _expected("visitor_type")
    refused = CliRunner().invoke(app, ["sessions", "--tenant", "acme", "--breakdown", "colour"])
    assert refused.exit_code != 0 and "unknown session breakdown" in " ".join(refused.output.split())


def test_api_upload_and_conversion(live_server: LiveServer) -> None:
    refused = _upload(live_server, [SAMPLE], "uci-online-shoppers")
    assert refused.status_code == 422 and "reference date" in refused.text
    started = _upload(live_server, [SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    assert started.status_code == 202, started.text
    job = _wait(live_server, started.json()["id"])
    assert job["status"] == "succeeded", job
    answer = httpx.get(
        f"{live_server.url}/api/v1/t/acme/sessions/conversion",
        params={"breakdown": "month", "from": "2017-01-01", "to": date(2017, 12, 31).isoformat()},
        headers=_auth(live_server),
        timeout=DEADLINE,
    )
    assert answer.status_code == 200, answer.text
    assert {r["value"]: (r["sessions"], r["converted"]) for r in answer.json()["rows"]} == _expected("month")
    bad = httpx.get(
        f"{live_server.url}/api/v1/t/acme/sessions/conversion",
        params={"breakdown": "colour"},
        headers=_auth(live_server),
        timeout=DEADLINE,
    )
    assert bad.status_code == 422 and "unknown session breakdown" in bad.text


def test_conversion_export_equals_the_file_and_the_api(
    importer: Importer, request: pytest.FixtureRequest
) -> None:
    """``?format=`` on the API and the Sessions page: the JSON's rows then its total, counted by pandas
    from the file; audited as ``sessions.export``."""
    importer.run([SAMPLE], "uci-online-shoppers", reference_date=REFERENCE)
    importer.warehouse.close()
    server: InProcServer = request.getfixturevalue("server")
    _, key = tenancy.create_api_key(server.state.engine, "acme", "analyst", "sessions-export")
    params = {"breakdown": "visitor_type", "from": "2017-01-01", "to": "2017-12-31"}
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    ) as api:
        answer = api.get("/sessions/conversion", params=params).json()
        exported = api.get("/sessions/conversion", params={**params, "format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    expected = _expected("visitor_type")
    assert rows[0] == ["visitor_type", "Sessions", "Converted", "Conversion rate"]
    assert {r[0]: (int(r[1]), int(r[2])) for r in rows[1:-1]} == expected
    assert [r[:3] for r in rows[1:]] == [
        [r["value"], str(r["sessions"]), str(r["converted"])] for r in [*answer["rows"], answer["total"]]
    ]
    sessions, converted = (sum(v[i] for v in expected.values()) for i in (0, 1))
    assert rows[-1][:3] == ["all", str(sessions), str(converted)]
    assert float(rows[-1][3]) == pytest.approx(converted / sessions)
    add_member(server.state.engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/sessions", params={"breakdown": "month"})
        assert 'href="/t/acme/sessions?breakdown=month&amp;start=&amp;end=&amp;format=xlsx"' in page.text
        xlsx = client.get("/t/acme/sessions", params={"breakdown": "month", "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "month" and {r[0]: (r[1], r[2]) for r in table[1:-1]} == _expected("month")
    records = [
        r for r in audit_records(server.state.engine, server.tenant.id) if r["action"] == "sessions.export"
    ]
    assert [
        (r["target_id"], r["details"]["filters"]["breakdown"], r["details"]["rows"]) for r in records
    ] == [
        ("csv", "visitor_type", len(expected) + 1),
        ("xlsx", "month", len(_expected("month")) + 1),
    ]
