"""Retention with a fixed clock: old events anonymised (or dropped), dead letters and reject files
deleted, expired export bundles dropped, everything audited; the policy through API and CLI; the
server's scheduled pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export as audit_export
from ecomops.imports.execution import job_dir
from ecomops.imports.models import ImportJob
from ecomops.imports.service import REJECT_FILE
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.jobs import scheduler_of
from ecomops.platform.periodic import Periodic
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.platform.warehouse.schema import migrations
from ecomops.privacy import compaction, retention
from ecomops.privacy import requests as privacy_requests
from ecomops.privacy.cli.privacy import privacy_app
from ecomops.privacy.models import PrivacyRequest
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.privacy.test_requests import rewritten_bytes
from tests.timing import DEADLINE, ManualDateTime

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD_DAY_1 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
OLD_DAY_2 = datetime(2026, 1, 11, 9, 0, tzinfo=UTC)
RECENT = datetime(2026, 2, 25, 9, 0, tzinfo=UTC)
CONTEXT = json.dumps(
    {
        "ip": "198.51.100.4",
        "userAgent": "UA/1",
        "locale": "zh-CN",
        "device": {"id": "dev-42", "type": "mobile"},
        "page": {"url": "https://s/?q=1", "path": "/"},
    }
)
runner = CliRunner()
#: The statement of platform warehouse migration 0002 that moves stored contexts into their typed columns:
#: the events here are stored as the loader stores them (ip, userAgent, device.id… in columns).
SPLIT_STORED_CONTEXTS = next(m.sql for m in migrations() if (m.module, m.version) == ("platform", 2)).split(
    "-- Rows written before this migration: move their keys into the new columns."
)[1]


def _event(cur: object, mid: str, ts: datetime, user: str | None, anon: str | None) -> None:
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO events (message_id, type, event, anonymous_id, user_id, ts, received_at, page_url, "
        "referrer, traits, context, properties, country) VALUES (?, 'track', 'Product Viewed', ?, ?, ?, ?, "
        "'https://shop.example/p/1?utm_source=x&email=a', 'https://ref.example/?q=me', "
        '\'{"plan": "gold"}\', ?, \'{"product_id": "p1"}\', \'CN\')',
        [mid, anon, user, ts, ts, CONTEXT],
    )


@pytest.fixture
def warehouse(settings: Settings, tenant: TenantInfo) -> Iterator[Warehouse]:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        _event(cur, "o1", OLD_DAY_1, "u1", "a1")
        _event(cur, "o2", OLD_DAY_1 + timedelta(hours=2), "u1", "a1")
        _event(cur, "o3", OLD_DAY_2, "u1", "a1")
        _event(cur, "o4", OLD_DAY_1, "u2", None)
        _event(cur, "r1", RECENT, "u1", "a1")
        cur.execute(SPLIT_STORED_CONTEXTS)
        cur.execute(
            "INSERT INTO ingest_dead_letters (dead_letter_id, received_at, reason, payload) VALUES "
            "('dl-old', ?, 'bad', '{}'), ('dl-new', ?, 'bad', '{}')",
            [NOW - timedelta(days=40), NOW - timedelta(days=2)],
        )
    yield wh
    wh.close()


def _policy(engine: Engine, tenant_id: str, **rules: object) -> retention.Policy:
    values: dict[str, object] = {
        "events_days": None,
        "events_action": "anonymise",
        "dead_letters_days": None,
        "reject_files_days": None,
    }
    values.update(rules)
    return retention.set_policy(engine, tenant_id, **values)  # type: ignore[arg-type]


def test_without_a_policy_nothing_is_deleted(
    engine: Engine, settings: Settings, tenant: TenantInfo, warehouse: Warehouse
) -> None:
    assert retention.get_policy(engine, tenant.id).rules()["events_days"] is None
    summary = retention.run_retention(engine, settings, warehouse, tenant, now=NOW)
    assert "events_anonymised" not in summary and "dead_letters_deleted" not in summary
    assert warehouse.query("SELECT count(*) FROM events WHERE user_id IN ('u1', 'u2')") == [(5,)]


def test_old_events_are_anonymised_per_person_and_day(
    engine: Engine, settings: Settings, tenant: TenantInfo, warehouse: Warehouse
) -> None:
    _policy(engine, tenant.id, events_days=30)
    summary = retention.run_retention(engine, settings, warehouse, tenant, now=NOW)
    assert summary["events_anonymised"] == 4
    assert summary["compaction_pending"] is True
    assert compaction.pending_tenants(settings.warehouse_dir()) == [tenant.id]

    rows = {
        r[0]: r[1:]
        for r in warehouse.query(
            "SELECT message_id, user_id, anonymous_id, traits, context_full(events), page_url, referrer, "
            "properties, country FROM events ORDER BY message_id"
        )
    }
    o1, o2, o3, o4, r1 = (rows[m] for m in ("o1", "o2", "o3", "o4", "r1"))
    for row in (o1, o2, o3, o4):
        assert row[0].startswith("rk_")
        assert row[2] is None  # traits
        context = json.loads(row[3])
        assert context == {"locale": "zh-CN", "page": {"path": "/"}, "device": {"type": "mobile"}}
        assert row[4] == "https://shop.example/p/1" and row[5] == "https://ref.example/"
        assert json.loads(row[6]) == {"product_id": "p1"} and row[7] == "CN"  # analytics survive
    assert o1[0] == o2[0] and o1[1] == o2[1]  # same person, same day: one random id
    assert o1[0] != o3[0] and o1[1] != o3[1]  # next day: another one
    assert o1[0] != o4[0]
    assert o1[0] != o1[1] and o1[1].startswith("rk_")
    assert r1[:2] == ("u1", "a1") and json.loads(r1[3])["ip"] == "198.51.100.4"  # recent: untouched
    assert warehouse.query("SELECT count(*) FROM events") == [(5,)]
    # The fields were in their own columns: those are what retention cleared.
    assert warehouse.query(
        "SELECT message_id, ip, user_agent, device_id, context_page_url, locale FROM events "
        "ORDER BY message_id"
    ) == [(m, None, None, None, None, "zh-CN") for m in ("o1", "o2", "o3", "o4")] + [
        ("r1", "198.51.100.4", "UA/1", "dev-42", "https://s/?q=1", "zh-CN")
    ]

    # Idempotent: a second run finds nothing left to do and keeps the ids.
    again = retention.run_retention(engine, settings, warehouse, tenant, now=NOW)
    assert again["events_anonymised"] == 0
    assert warehouse.query("SELECT user_id FROM events WHERE message_id = 'o1'") == [(o1[0],)]

    audited = audit_export(engine, tenant.id, action="retention.*")
    assert [a["action"] for a in audited] == ["retention.set", "retention.run", "retention.run"]
    assert audited[1]["details"]["events_anonymised"] == 4
    policy = retention.get_policy(engine, tenant.id)
    assert policy.last_run_at == NOW and policy.last_run_summary == again


def test_drop_dead_letters_reject_files_and_expired_bundles(
    engine: Engine, settings: Settings, tenant: TenantInfo, warehouse: Warehouse
) -> None:
    paths = {}
    with tenant_session(engine, tenant.id) as session:
        for job_id, finished in (("imp_old", NOW - timedelta(days=20)), ("imp_new", NOW - timedelta(days=1))):
            session.add(
                ImportJob(
                    id=job_id,
                    tenant_id=tenant.id,
                    preset="generic",
                    files=["a.csv"],
                    status="succeeded",
                    created_at=finished,
                    finished_at=finished,
                )
            )
            path = job_dir(settings, job_id) / REJECT_FILE
            path.parent.mkdir(parents=True)
            path.write_text("file,row,column,value,reason\n", "utf-8")
            paths[job_id] = path
        for request_id, expires in (
            ("prq_old", NOW - timedelta(hours=1)),
            ("prq_new", NOW + timedelta(days=3)),
        ):
            session.add(
                PrivacyRequest(
                    id=request_id,
                    tenant_id=tenant.id,
                    kind="export",
                    subject="u1",
                    lookup="customer_id",
                    status="done",
                    requested_by="test",
                    created_at=NOW - timedelta(days=5),
                    bundle=b"sealed",
                    bundle_expires_at=expires,
                )
            )
    _policy(
        engine, tenant.id, events_days=30, events_action="drop", dead_letters_days=30, reject_files_days=7
    )
    summary = retention.run_retention(engine, settings, warehouse, tenant, now=NOW)
    assert (summary["events_dropped"], summary["dead_letters_deleted"], summary["reject_files_deleted"]) == (
        4,
        1,
        1,
    )
    assert summary["export_bundles_dropped"] == 1
    assert warehouse.query("SELECT message_id FROM events") == [("r1",)]
    assert warehouse.query("SELECT dead_letter_id FROM ingest_dead_letters") == [("dl-new",)]
    assert not paths["imp_old"].exists() and paths["imp_new"].exists()
    assert privacy_requests.get_request(engine, tenant.id, "prq_old").bundle_available is False
    assert privacy_requests.get_request(engine, tenant.id, "prq_new").bundle_available is True


def test_policy_validation(engine: Engine, tenant: TenantInfo) -> None:
    with pytest.raises(ValidationFailed, match="events_action must be drop or anonymise"):
        _policy(engine, tenant.id, events_action="shred")
    with pytest.raises(ValidationFailed, match="dead_letters_days must be a whole number of days") as info:
        _policy(engine, tenant.id, dead_letters_days=0)
    assert info.value.details == {"field": "dead_letters_days"}


def test_retention_cli_set_show_run(
    engine: Engine, settings: Settings, tenant: TenantInfo, warehouse: Warehouse
) -> None:
    warehouse.close()  # the CLI opens the file itself when no server runs
    result = runner.invoke(
        privacy_app,
        [
            "retention",
            "set",
            "--tenant",
            "acme",
            "--events-days",
            "30",
            "--dead-letters-days",
            "90",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events_days"] == 30
    result = runner.invoke(
        privacy_app, ["retention", "set", "--tenant", "acme", "--events-days", "off", "--json"]
    )
    data = json.loads(result.output)
    assert (data["events_days"], data["dead_letters_days"]) == (None, 90)  # unchanged options are kept
    result = runner.invoke(privacy_app, ["retention", "set", "--tenant", "acme", "--events-days", "soon"])
    assert result.exit_code == 1 and "--events-days must be a number of days or 'off'" in result.output
    result = runner.invoke(privacy_app, ["retention", "run", "--tenant", "acme", "--json"])
    assert result.exit_code == 0, result.output
    # The fixture's dead letters are 40 and 2 days before NOW (2026-03-01); today both are >90 days old.
    ran = json.loads(result.stdout)
    assert ran["dead_letters_deleted"] == 2
    assert rewritten_bytes(result.output)[1] > 0  # no server: the file is rewritten at once
    assert compaction.pending_tenants(settings.warehouse_dir()) == []
    result = runner.invoke(privacy_app, ["retention", "show", "--tenant", "acme"])
    assert "dead letters:  90 days" in result.output and "last run" in result.output


def test_retention_api_gates_and_runs(server: InProcServer) -> None:
    engine, slug = server.state.engine, server.tenant.slug
    keys = {
        role: tenancy.create_api_key(engine, slug, role, f"ret-{role}")[1] for role in ("admin", "analyst")
    }
    base = f"{server.url}/api/v1/t/{slug}/privacy/retention"
    with httpx.Client(timeout=30) as client:
        auth = {"Authorization": f"Bearer {keys['admin']}"}
        r = client.put(base, json={"events_days": 400, "events_action": "drop"}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["updated_by"].startswith("api_key:")
        bad = client.put(base, json={"events_days": -1}, headers=auth)
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "events_days"]
        assert client.get(base, headers=auth).json()["events_days"] == 400
        run = client.post(base + "/run", headers=auth)
        assert run.status_code == 200 and run.json()["events_dropped"] == 0
        denied = client.get(base, headers={"Authorization": f"Bearer {keys['analyst']}"})
        assert denied.status_code == 403
        assert denied.json()["error"]["details"]["permission"] == "privacy:retention"


@pytest.fixture
def manual_retention(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interval no test outlives: passes happen when the test ticks the schedule, and only then."""
    monkeypatch.setenv("ECOMOPS_RETENTION_INTERVAL_SECONDS", "86400")
    get_settings.cache_clear()


def test_the_server_applies_policies_on_its_schedule(manual_retention: None, server: InProcServer) -> None:
    engine, tenant = server.state.engine, server.tenant
    schedule: Periodic = scheduler_of(server.state).schedule("privacy.retention")
    assert schedule.interval == 86400
    schedule.clock = ManualDateTime(NOW)
    with server.state.warehouses.get(tenant.id).write() as cur:
        cur.execute(
            "INSERT INTO ingest_dead_letters (dead_letter_id, received_at, reason, payload) "
            "VALUES ('dl-ancient', ?, 'bad', '{}')",
            [NOW - timedelta(days=400)],
        )
    _policy(engine, tenant.id, dead_letters_days=365)
    assert audit_export(engine, tenant.id, action="retention.run") == []  # nothing runs until the tick
    schedule.tick()
    assert schedule.wait_for_passes(1, DEADLINE), "the scheduled retention pass never finished"
    runs = audit_export(engine, tenant.id, action="retention.run")
    assert len(runs) == 1 and runs[0]["actor"] == "system:retention"
    assert runs[0]["details"]["dead_letters_deleted"] == 1
    assert server.query("SELECT count(*) FROM ingest_dead_letters") == [(0,)]
