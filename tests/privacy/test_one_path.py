"""``ecomops privacy export`` answers alike through a running server and here, and as the API does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.privacy import vault
from tests.one_path import cli_failure, cli_json, http_failure, serving

MISSING = ["privacy", "export", "--tenant", "acme", "--customer", "nobody"]
#: What differs between two runs of one request: its id, times and who asked.
PER_RUN = {
    "id",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
    "bundle_expires_at",
    "download_url",
}


def _stable(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in PER_RUN}


def test_privacy_cli_answers_alike_here_through_the_server_and_over_http(
    data_dir: Path, settings: Settings, engine: Engine, tenant: TenantInfo, tmp_path: Path
) -> None:
    with tenant_session(engine, tenant.id) as session:
        vault.upsert_pii(session, tenant.id, "c-ann", {"email": "ann@example.net", "name": "Ann"})
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        cur.execute(
            "INSERT INTO orders (order_id, customer_id, status, ordered_at, currency, subtotal, total) "
            "VALUES ('A1', 'c-ann', 'paid', TIMESTAMPTZ '2026-01-02 03:04:05+00', 'CNY', 12, 12)"
        )
    wh.close()

    def export(out: Path) -> dict[str, Any]:
        args = ["privacy", "export", "--tenant", "acme", "--email", "ANN@example.net", "--out", str(out)]
        result: dict[str, Any] = cli_json(*[*args, "--json"])
        return result

    with serving(data_dir, "acme") as api:
        http_missing = http_failure(
            api.post("/privacy/requests", json={"kind": "export", "customer_id": "nobody"})
        )
        http_export = api.post(
            "/privacy/requests", json={"kind": "export", "email": "ANN@example.net"}
        ).json()
        remote_missing = cli_failure(*MISSING)
        remote_export = export(tmp_path / "remote.json")
    here_missing = cli_failure(*MISSING)
    here_export = export(tmp_path / "here.json")

    assert remote_missing == here_missing == http_missing
    assert http_missing[:2] == (404, "not_found") and "nobody" in http_missing[2]
    assert _stable(remote_export) == _stable(here_export) == _stable(http_export)
    assert here_export["status"] == "done" and here_export["summary"]["warehouse_rows"] == {"orders": 1}
    assert remote_export["requested_by"] == "local-cli" and here_export["requested_by"].startswith("cli:")
    remote_bundle = json.loads((tmp_path / "remote.json").read_text("utf-8"))
    here_bundle = json.loads((tmp_path / "here.json").read_text("utf-8"))
    assert remote_bundle["pii"] == here_bundle["pii"] == {"email": "ann@example.net", "name": "Ann"}
    assert remote_bundle["warehouse"] == here_bundle["warehouse"]
