"""Write keys can be revoked and rotated (with an overlap) through the API, the CLI and the console,
and every change is audited (issue 10: docs promised revocation, nothing offered it)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from ecomops.audit import service as audit
from ecomops.cli import app
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.store.scoping import system_session
from ecomops.tenancy import service as tenancy
from ecomops.tenancy.models import Source
from tests.conftest import InProcServer
from tests.timing import DEADLINE


def _event(n: int) -> dict[str, object]:
    return {"event": "Product Viewed", "userId": "u1", "messageId": f"m{n}"}


def _send(server: InProcServer, key: str, n: int) -> int:
    return httpx.post(f"{server.url}/v1/track", json=_event(n), auth=(key, ""), timeout=DEADLINE).status_code


def _admin(server: InProcServer, engine: Engine) -> httpx.Client:
    _, key = tenancy.create_api_key(engine, "acme", "admin", "ops")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    )


def test_rotation_keeps_the_old_key_for_the_overlap_then_revocation_ends_both(
    server: InProcServer, engine: Engine
) -> None:
    old_key = server.write_key
    source_id = tenancy.list_sources(engine, "acme")[0].id
    assert _send(server, old_key, 1) == 200
    with _admin(server, engine) as api:
        rotated = api.post(f"/sources/{source_id}/rotate", json={"overlap_hours": 24})
        assert rotated.status_code == 200, rotated.text
        body = rotated.json()
        new_key = body["write_key"]
        assert new_key != old_key and body["write_key_prefix"] == new_key[:10]
        assert body["previous_key_expires_at"] is not None
        # Both keys work during the overlap.
        assert _send(server, new_key, 2) == 200
        assert _send(server, old_key, 3) == 200
        listed = api.get("/sources").json()
        assert listed[0]["previous_key_expires_at"] == body["previous_key_expires_at"]
        # Once the overlap is over, the old key is refused (moved into the past instead of waiting a day).
        with system_session(engine, "test: end the overlap") as s:
            s.execute(update(Source).values(previous_key_expires_at=utcnow() - timedelta(seconds=1)))
        assert tenancy.source_for_write_key(engine, old_key) is None
        assert tenancy.source_for_write_key(engine, new_key) is not None

        assert api.delete(f"/sources/{source_id}").status_code == 204
        # Revoked through this server: refused at once, not after the key cache's minute.
        assert _send(server, new_key, 4) == 401
        assert api.get("/sources").json() == []
        assert api.delete(f"/sources/{source_id}").status_code == 404
    actions = [r["action"] for r in audit.export(engine, server.tenant.id)]
    assert "source.rotate" in actions and "source.revoke" in actions


def test_rotation_without_overlap_ends_the_old_key_at_once(server: InProcServer, engine: Engine) -> None:
    source_id = tenancy.list_sources(engine, "acme")[0].id
    with _admin(server, engine) as api:
        assert _send(server, server.write_key, 1) == 200  # cached by the server
        rotated = api.post(f"/sources/{source_id}/rotate", json={"overlap_hours": 0}).json()
        assert rotated["previous_key_expires_at"] is None
        assert _send(server, server.write_key, 2) == 401
        assert _send(server, rotated["write_key"], 3) == 200
        bad = api.post(f"/sources/{source_id}/rotate", json={"overlap_hours": -1})
        assert bad.status_code == 422


def test_a_viewer_cannot_rotate_or_revoke(server: InProcServer, engine: Engine) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "viewer", "tv")
    source_id = tenancy.list_sources(engine, "acme")[0].id
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    ) as api:
        assert api.post(f"/sources/{source_id}/rotate", json={}).status_code == 403
        assert api.delete(f"/sources/{source_id}").status_code == 403
    assert _send(server, server.write_key, 1) == 200


def test_cli_rotate_and_revoke(engine: Engine, tenant: object) -> None:
    info, old_key = tenancy.create_source(engine, "acme", "mini", "wechat_mini")
    runner = CliRunner()
    rotated = runner.invoke(
        app, ["source", "rotate", "mini", "--tenant", "acme", "--overlap-hours", "2"], catch_exceptions=False
    )
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    assert new_key.startswith("wk_") and "previous key works until" in rotated.output
    assert tenancy.source_for_write_key(engine, old_key) is not None
    assert tenancy.source_for_write_key(engine, new_key) is not None
    revoked = runner.invoke(app, ["source", "revoke", info.id, "--tenant", "acme"], catch_exceptions=False)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert tenancy.source_for_write_key(engine, old_key) is None
    assert tenancy.source_for_write_key(engine, new_key) is None
    missing = runner.invoke(app, ["source", "revoke", "mini", "--tenant", "acme"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_service_checks_the_overlap_and_the_tenant(engine: Engine, tenant: object) -> None:
    tenancy.create_tenant(engine, "other")
    info, _ = tenancy.create_source(engine, "other", "site", "web")
    with pytest.raises(NotFound):
        tenancy.revoke_source(engine, "acme", info.id)  # another tenant's source is not found here
    with pytest.raises(ValidationFailed):
        tenancy.rotate_source(engine, "other", "site", overlap_hours=24 * 31)
