"""The console's alerts page: listed for every member, create form only for roles with alerts:write."""

from __future__ import annotations

import pytest

from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def test_alerts_page_lists_rules_and_gates_the_form(server: InProcServer) -> None:
    engine = server.state.engine
    add_member(engine, "otto@acme.test", "operator")
    add_member(engine, "vera@acme.test", "viewer")
    with signed_in(server, "otto@acme.test") as (client, csrf):
        page = client.get("/t/acme/alerts")
        assert page.status_code == 200
        assert "No alert rules yet." in page.text and 'id="alert-form"' in page.text
        assert 'data-nav="alerts"' in page.text
        form = {  # what console.js sends for the form: strings, "" for empty fields, ints for data-type=int
            "name": "tmall floor",
            "kind": "metric",
            "metric": "gmv",
            "window": "day",
            "condition": "below",
            "threshold": "5000",
            "compare_to": "",
            "breakdown": "channel",
            "breakdown_value": "tmall",
            "webhook_url": "",
            "min_volume": 3,
        }
        created = client.post("/api/v1/t/acme/alerts", json=form, headers={"x-csrf-token": csrf})
        assert created.status_code == 201, created.text
        assert created.json()["webhook_secret"] is None
        no_csrf = client.post("/api/v1/t/acme/alerts", json={**form, "name": "other"})
        assert no_csrf.status_code == 403
        listed = client.get("/t/acme/alerts").text
        assert "tmall floor" in listed and "gmv per day for channel=tmall below 5000" in listed
        assert f"/api/v1/t/acme/alerts/{created.json()['id']}" in listed
    with signed_in(server, "vera@acme.test", **{"Accept-Language": "zh-CN"}) as (client, _):
        page = client.get("/t/acme/alerts")
        assert page.status_code == 200
        assert "告警" in page.text and "tmall floor" in page.text
        assert 'id="alert-form"' not in page.text and 'data-api-method="DELETE"' not in page.text
