"""State changes made through the CLI and the API leave the expected audit records."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit import service
from ecomops.cli import app
from ecomops.platform import tenants
from ecomops.platform.context import cli_actor
from ecomops.platform.settings import get_settings
from ecomops.platform.store.scoping import system_connection
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE


@pytest.fixture
def cli(store_url: str, store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_changes_are_recorded_and_verify(cli: CliRunner, store_engine: Engine) -> None:
    for args in (
        ["tenant", "create", "acme"],
        ["source", "create", "site", "--tenant", "acme"],
        ["apikey", "create", "--tenant", "acme", "--role", "admin", "--name", "ops"],
    ):
        result = cli.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    tenant = tenants.get_tenant(store_engine, "acme")
    records = service.export(store_engine, tenant.id)
    assert [(r["seq"], r["action"], r["actor"]) for r in records] == [
        (1, "tenant.create", cli_actor()),
        (2, "source.create", cli_actor()),
        (3, "apikey.create", cli_actor()),
    ]
    assert records[0]["target_id"] == tenant.id
    assert records[2]["target_type"] == "api_key" and records[2]["after_digest"]

    verified = cli.invoke(app, ["audit", "verify", "--tenant", "acme", "--json"], catch_exceptions=False)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["checked"] == 3

    exported = cli.invoke(app, ["audit", "export", "--tenant", "acme", "--action", "apikey.*"])
    assert [r["action"] for r in json.loads(exported.stdout)] == ["apikey.create"]
    as_csv = cli.invoke(app, ["audit", "export", "--tenant", "acme", "--format", "csv"])
    assert as_csv.exit_code == 0 and len(as_csv.stdout.strip().splitlines()) == 4

    with system_connection(store_engine, "test: tampering with the audit log") as conn:
        conn.exec_driver_sql("UPDATE audit_log SET target_id = 'x' WHERE seq = 2")
    broken = cli.invoke(app, ["audit", "verify", "--tenant", "acme"])
    assert broken.exit_code == 1
    assert "broken at seq 2" in " ".join(broken.output.split())


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_api_replay_is_recorded_and_viewer_needs_owner_or_admin(server: InProcServer) -> None:
    engine, slug, tenant_id = server.state.engine, server.tenant.slug, server.tenant.id
    keys = {role: tenancy.create_api_key(engine, slug, role)[1] for role in ("owner", "analyst", "operator")}
    base = f"/api/v1/t/{slug}"
    with server.client() as ingest:
        ingest.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "messageId": "m1"}]})
    with httpx.Client(base_url=server.url, timeout=30) as c:
        letters = c.get(f"{base}/ingest/dead-letters", headers=_auth(keys["operator"])).json()
        fixed = {"payload": {"type": "track", "userId": "u", "event": "Fixed", "messageId": "m1"}}
        replay = c.post(
            f"{base}/ingest/dead-letters/{letters[0]['dead_letter_id']}/replay",
            json=fixed,
            headers={**_auth(keys["operator"]), "X-Request-ID": "req-test-1"},
        )
        assert replay.status_code == 200, replay.text

        assert c.get(f"{base}/audit", headers=_auth(keys["analyst"])).status_code == 403
        assert c.get(f"{base}/audit/verify", headers=_auth(keys["analyst"])).status_code == 403

        listed = c.get(f"{base}/audit", params={"action": "ingest.*"}, headers=_auth(keys["owner"]))
        assert listed.status_code == 200, listed.text
        actions = [r["action"] for r in listed.json()]
        assert actions == ["ingest.dead_letter.replay", "ingest.dead_letter.read"]  # newest first
        replayed = listed.json()[0]
        assert replayed["request_id"] == "req-test-1"
        assert replayed["ip"] == "127.0.0.1"
        assert replayed["actor"].startswith("api_key:key_")
        assert replayed["target_id"] == letters[0]["dead_letter_id"]

        page = c.get(f"{base}/audit", params={"limit": 1, "offset": 1}, headers=_auth(keys["owner"])).json()
        assert len(page) == 1
        verify = c.get(f"{base}/audit/verify", headers=_auth(keys["owner"])).json()
    assert verify["ok"] is True
    assert service.verify(engine, tenant_id).checked == verify["checked"]


def test_api_request_without_request_id_gets_one(server: InProcServer) -> None:
    _, key = tenancy.create_api_key(server.state.engine, server.tenant.slug, "owner")
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        c.get(f"/api/v1/t/{server.tenant.slug}/ingest/dead-letters", headers=_auth(key))
    read = service.export(server.state.engine, server.tenant.id, action="ingest.dead_letter.read")
    assert read[0]["request_id"].startswith("req_")
