"""Tenancy, audit and security commands work on the operational store only, so they run here even
while a server runs; they call the administration API's service functions and fail the same way:
the same (status, code, message) with and without a server, and as the API answers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.security import accounts
from tests.one_path import cli_failure, http_failure, serving

REVOKE = ["apikey", "revoke", "key_nope", "--tenant", "acme"]
SOURCE = ["source", "create", "shop", "--tenant", "acme", "--channel", "fax"]
ANCHOR = ["audit", "verify", "--tenant", "acme", "--anchor", "ecomops-audit-anchor/v1;seq=x"]
MEMBER = ["member", "add", "not-an-email", "--tenant", "acme", "--role", "analyst"]
EXISTING = ["member", "add", "ann@example.com", "--tenant", "acme", "--role", "analyst"]
INVITATION = ["member", "revoke-invitation", "inv_nope", "--tenant", "acme"]


def _run_all() -> tuple[tuple[int, str, str], ...]:
    return tuple(cli_failure(*args) for args in (REVOKE, SOURCE, ANCHOR, MEMBER, EXISTING, INVITATION))


def test_store_commands_fail_alike_with_and_without_a_server_and_as_the_api(
    data_dir: Path, settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    accounts.create_user(engine, "ann@example.com", "a long passphrase for ann")
    accounts.add_member(engine, "acme", "ann@example.com", "viewer")
    without = _run_all()
    with serving(data_dir, "acme") as api:
        over_http = (
            http_failure(api.delete("/keys/key_nope")),
            http_failure(api.post("/sources", json={"name": "shop", "channel": "fax"})),
            http_failure(api.get("/audit/verify", params={"anchor": ANCHOR[-1]})),
            http_failure(api.post("/members", json={"email": "not-an-email", "role": "analyst"})),
            http_failure(api.post("/members", json={"email": "ann@example.com", "role": "analyst"})),
            http_failure(api.delete("/invitations/inv_nope")),
        )
        beside_a_server = _run_all()
    assert without == beside_a_server == over_http
    assert [(status, code) for status, code, _ in over_http] == [
        (404, "not_found"),
        (422, "validation_failed"),
        (422, "validation_failed"),
        (422, "validation_failed"),
        (409, "conflict"),
        (404, "not_found"),
    ]
