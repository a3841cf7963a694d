"""The alerts API through a real server, and the ``ecomops alerts`` commands."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.alerts import service, webhook
from ecomops.alerts.results import RuleEvent
from ecomops.audit import service as audit
from ecomops.cli import app
from ecomops.kernel.jsonutil import json_form
from ecomops.platform import commandline as cliutil
from ecomops.platform.context import TenantInfo
from ecomops.platform.jobs import scheduler_of
from ecomops.platform.periodic import Periodic
from ecomops.platform.server import ServerInfo, remove_lock, write_lock
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.tenancy import service as tenancy
from tests.alerts.conftest import NOW, Receiver, seed
from tests.conftest import InProcServer
from tests.timing import DEADLINE, ManualDateTime


def _client(server: InProcServer, role: str) -> httpx.Client:
    _, key = tenancy.create_api_key(server.state.engine, server.tenant.slug, role, f"alerts-{role}")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/{server.tenant.slug}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def test_api_crud_test_delivery_events_and_run(server: InProcServer, receiver: Receiver) -> None:
    body = {
        "name": "conversion drop",
        "metric": "conversion_rate",
        "window": "hour",
        "condition": "drop",
        "compare_to": "last_week",
        "threshold": "30",
        "min_volume": 20,
        "breakdown": "",  # what an empty form field sends
        "breakdown_value": "",
        "webhook_url": receiver.url,
    }
    with _client(server, "viewer") as viewer, _client(server, "operator") as operator:
        denied = viewer.post("/alerts", json=body)
        assert denied.status_code == 403 and denied.json()["error"]["details"]["permission"] == "alerts:write"
        created = operator.post("/alerts", json=body)
        assert created.status_code == 201, created.text
        rule = created.json()
        secret = rule["webhook_secret"]
        assert secret.startswith("whsec_") and rule["has_webhook_secret"] and rule["breakdown"] is None
        assert rule["volume_metric"] == "orders" and rule["threshold"] == "30"
        assert rule["description"] == "conversion_rate per hour drops 30% vs the same period last week"
        assert operator.post("/alerts", json=body).status_code == 409

        listed = viewer.get("/alerts").json()
        assert [r["id"] for r in listed] == [rule["id"]] and "webhook_secret" not in listed[0]
        assert viewer.get(f"/alerts/{rule['id']}").json()["name"] == "conversion drop"

        bad = operator.post("/alerts", json={**body, "name": "x", "metric": "nope"})
        assert bad.status_code == 422 and bad.json()["error"]["details"] == {"field": "metric"}
        extra = operator.post("/alerts", json={**body, "name": "y", "colour": "red"})
        assert extra.status_code == 422

        tested = operator.post(f"/alerts/{rule['id']}/test")
        assert tested.status_code == 200 and tested.json()["delivery"] == "delivered", tested.text
        [request] = receiver.requests
        assert webhook.verify(secret, request["headers"][webhook.SIGNATURE_HEADER], request["body"])

        patched = operator.patch(f"/alerts/{rule['id']}", json={"enabled": False, "threshold": "40"})
        assert patched.status_code == 200, patched.text
        assert (patched.json()["enabled"], patched.json()["threshold"], patched.json()["webhook_secret"]) == (
            False,
            "40",
            None,
        )
        rotated = operator.patch(f"/alerts/{rule['id']}", json={"rotate_secret": True}).json()
        assert rotated["webhook_secret"] not in (None, secret)

        # Run now: the real clock and an empty warehouse, so nothing has the volume to fire.
        ran = operator.post("/alerts/run", json={"rule_ids": [rule["id"]]})
        assert ran.status_code == 200, ran.text
        [evaluation] = ran.json()
        assert evaluation["rule_id"] == rule["id"] and evaluation["status"] in {"low_volume", "unavailable"}
        assert operator.post("/alerts/run", json={"rule_ids": ["alr_nope"]}).status_code == 404
        assert operator.post("/alerts/run").json() == []  # the only rule is disabled

        events = viewer.get("/alerts/events", params={"rule_id": rule["id"]}).json()
        assert [(e["kind"], e["status"], e["attempts"]) for e in events] == [("test", "delivered", 1)]

        assert viewer.delete(f"/alerts/{rule['id']}").status_code == 403
        assert operator.delete(f"/alerts/{rule['id']}").status_code == 204
        assert viewer.get(f"/alerts/{rule['id']}").status_code == 404
        assert viewer.get("/alerts/events").json() == []
    actions = [r["action"] for r in audit.export(server.state.engine, server.tenant.id, action="alert.*")]
    assert actions == ["alert.create", "alert.test", "alert.update", "alert.update", "alert.delete"]


def _cli(*args: str) -> Any:
    # The shared rich Console fixed its width at import (80 without a terminal, as in CI): widen it
    # so table cells are not wrapped across lines.
    cliutil.console.width = 300
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result


def test_cli_create_list_run_events_delete(
    engine: Engine, shop_settings: Settings, tenant: TenantInfo
) -> None:
    wh = open_warehouse(shop_settings.warehouse_dir(), tenant.id)
    seed(wh)
    wh.close()  # `run` opens the file read-only, as it does when no server runs
    created = json.loads(
        _cli(
            "alerts",
            "create",
            "--tenant",
            "acme",
            "--name",
            "gmv floor",
            "--metric",
            "gmv",
            "--condition",
            "below",
            "--threshold",
            "1000000",
            "--filter",
            "channel=web",
            "--json",
        ).stdout
    )
    assert created["breakdown"] == "channel" and created["breakdown_value"] == "web"
    assert created["webhook_secret"] is None
    _cli("alerts", "create", "--tenant", "acme", "--name", "stock", "--kind", "stock", "--threshold", "3")
    listed = json.loads(_cli("alerts", "list", "--tenant", "acme", "--json").stdout)
    assert [r["name"] for r in listed] == ["gmv floor", "stock"]
    assert "stock cover below 3 days" in _cli("alerts", "list", "--tenant", "acme").stdout

    # The real clock: yesterday's web GMV (0 in this shop) is below the floor, so it fires.
    results = json.loads(_cli("alerts", "run", "--tenant", "acme", "--rule", "gmv floor", "--json").stdout)
    assert [(r["status"], r["delivery"]) for r in results] == [("fired", "no_webhook")]
    events = json.loads(_cli("alerts", "events", "--tenant", "acme", "--json").stdout)
    assert [e["rule_id"] for e in events] == [created["id"]]

    bad = CliRunner().invoke(
        app,
        ["alerts", "create", "--tenant", "acme", "--name", "x", "--threshold", "1", "--filter", "channel"],
    )
    assert bad.exit_code == 1 and "--filter must look like breakdown=value" in bad.output
    bad = CliRunner().invoke(
        app,
        [
            "alerts",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--threshold",
            "1",
            "--metric",
            "gmv",
            "--condition",
            "drop",
        ],
    )
    assert bad.exit_code == 1 and "compare_to" in bad.output

    _cli("alerts", "delete", "--tenant", "acme", "gmv floor")
    assert [r.name for r in service.list_rules(engine, tenant.id)] == ["stock"]
    missing = CliRunner().invoke(app, ["alerts", "delete", "--tenant", "acme", "gmv floor"])
    assert missing.exit_code == 1 and "no alert rule with id or name 'gmv floor'" in missing.output
    assert Decimal(listed[1]["threshold"]) == 3


@pytest.fixture
def manual_schedule(alert_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interval no test outlives: passes happen when the test ticks the schedule, and only then."""
    monkeypatch.setenv("ECOMOPS_ALERTS_INTERVAL_SECONDS", "86400")
    get_settings.cache_clear()


def test_the_server_evaluates_enabled_rules_on_its_schedule(
    manual_schedule: None, server: InProcServer
) -> None:
    engine, tenant = server.state.engine, server.tenant
    schedule: Periodic = scheduler_of(server.state).schedule("alerts.evaluate")
    assert schedule.interval == 86400
    schedule.clock = ManualDateTime(NOW)  # every pass evaluates the same periods
    # An empty shop: yesterday's GMV is 0, below any positive floor.
    rule = service.create_rule(
        engine,
        server.state.settings,
        tenant.id,
        service.RuleSpec(name="floor", metric="gmv", threshold=Decimal(1)),
    )
    service.create_rule(
        engine,
        server.state.settings,
        tenant.id,
        service.RuleSpec(name="off", metric="gmv", threshold=Decimal(1), enabled=False),
    )
    assert schedule.passes == 0 and service.list_events(engine, tenant.id) == []
    schedule.tick()
    assert schedule.wait_for_passes(1, DEADLINE), "the scheduled pass never finished"
    [event] = service.list_events(engine, tenant.id)
    assert (event.rule_id, event.kind, json_form(event, RuleEvent)["value"]) == (rule.id, "firing", "0")
    schedule.tick()  # a later pass: same period, so no second firing
    assert schedule.wait_for_passes(2, DEADLINE), "the second scheduled pass never finished"
    rules = {r.name: r for r in service.list_rules(engine, tenant.id)}
    assert rules["floor"].last_status in {"already_fired", "cooldown"}
    assert rules["off"].last_evaluated_at is None
    assert len(service.list_events(engine, tenant.id)) == 1


def test_cli_run_goes_through_the_running_server(server: InProcServer) -> None:
    """With a server owning the warehouse, `alerts run` asks it (control token), not the file."""
    settings = server.state.settings
    write_lock(settings, ServerInfo(os.getpid(), server.url, server.state.control_token))
    try:
        _cli("alerts", "create", "--tenant", "acme", "--name", "floor", "--metric", "gmv", "--threshold", "1")
        results = json.loads(_cli("alerts", "run", "--tenant", "acme", "--json").stdout)
        assert [r["status"] for r in results] == ["fired"]
        [event] = service.list_events(server.state.engine, server.tenant.id)
        assert event.kind == "firing"
    finally:
        remove_lock(settings, os.getpid())
