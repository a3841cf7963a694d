"""``ecomops ingest dead-letters`` with and without a running server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export
from ecomops.cli import app
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import connect, open_warehouse, warehouse_path
from ecomops.tenancy import service as tenancy
from tests.conftest import start_server
from tests.one_path import cli_failure, cli_json, http_failure, serving
from tests.timing import DEADLINE

runner = CliRunner()


def test_dead_letters_list_and_replay_through_server_then_directly(
    data_dir: Path, engine: Engine, tenant: TenantInfo, tmp_path: Path
) -> None:
    _, key = tenancy.create_source(engine, tenant.slug, "mini", "wechat_mini")
    server = start_server(data_dir)
    try:
        with httpx.Client(base_url=server.url, auth=(key, ""), timeout=DEADLINE) as c:
            c.post(
                "/v1/batch",
                json={
                    "batch": [
                        {"type": "track", "userId": "u1", "messageId": "a"},
                        {"type": "track", "event": "", "userId": "u2", "messageId": "b"},
                    ]
                },
            )
        listed = runner.invoke(app, ["ingest", "dead-letters", "list", "--tenant", "acme", "--json"])
        assert listed.exit_code == 0, listed.output
        letters = json.loads(listed.output)
        assert [d["batch_index"] for d in letters] == [0, 1] or [d["batch_index"] for d in letters] == [1, 0]
        first = next(d for d in letters if d["batch_index"] == 0)
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps(json.loads(first["payload"]) | {"event": "Coupon Claimed"}))
        out = runner.invoke(
            app,
            [
                "ingest",
                "dead-letters",
                "replay",
                first["dead_letter_id"],
                "--tenant",
                "acme",
                "--payload",
                str(fixed),
            ],
        )
        assert out.exit_code == 0, out.output
        assert "message a stored" in out.output
        still_bad = next(d for d in letters if d["batch_index"] == 1)
    finally:
        server.stop()
    # Without a server the CLI opens the file itself; an unfixed replay fails with the reason.
    out = runner.invoke(
        app, ["ingest", "dead-letters", "replay", still_bad["dead_letter_id"], "--tenant", "acme"]
    )
    assert out.exit_code == 1
    assert "still invalid: track events need a non-empty event name" in out.output
    fixed.write_text(json.dumps(json.loads(still_bad["payload"]) | {"event": "Search"}))
    out = runner.invoke(
        app,
        [
            "ingest",
            "dead-letters",
            "replay",
            still_bad["dead_letter_id"],
            "--tenant",
            "acme",
            "--payload",
            str(fixed),
        ],
    )
    assert out.exit_code == 0, out.output
    remaining = runner.invoke(app, ["ingest", "dead-letters", "list", "--tenant", "acme", "--json"])
    assert json.loads(remaining.output) == []
    con = connect(warehouse_path(data_dir / "warehouse", tenant.id), read_only=True)
    assert sorted(con.execute("SELECT message_id, event, channel FROM events").fetchall()) == [
        ("a", "Coupon Claimed", "wechat_mini"),
        ("b", "Search", "wechat_mini"),
    ]
    con.close()


def test_replay_refusal_is_the_same_on_every_path(
    data_dir: Path, settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    """A dead letter without a source cannot be replayed: 422 validation_failed, the same message,
    over HTTP, from the CLI through the server and from the CLI without one (it used to be 400 over
    HTTP and 422 from the CLI). Listing gives the same letters on both paths."""
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        cur.execute(
            "INSERT INTO ingest_dead_letters (dead_letter_id, received_at, source_id, batch_index, reason, "
            "payload) VALUES ('dl-orphan', '2026-11-11 08:00:00+00', NULL, NULL, 'source deleted', "
            '\'{"type": "track", "event": "Search", "userId": "u1"}\')'
        )
    wh.close()
    replay = ["ingest", "dead-letters", "replay", "dl-orphan", "--tenant", "acme"]
    listing = ["ingest", "dead-letters", "list", "--tenant", "acme", "--json"]
    with serving(data_dir, "acme") as api:
        over_http = http_failure(api.post("/ingest/dead-letters/dl-orphan/replay"))
        through_server = cli_failure(*replay)
        listed_remote = cli_json(*listing)
    here = cli_failure(*replay)
    listed_here = cli_json(*listing)
    expected = (422, "validation_failed", "dead letter has no source, so it cannot be replayed")
    assert over_http == through_server == here == expected
    assert listed_remote == listed_here
    assert [d["dead_letter_id"] for d in listed_here] == ["dl-orphan"]
    assert listed_here[0]["received_at"] == "2026-11-11T08:00:00Z" and listed_here[0]["source_id"] is None
    reads = [r for r in export(engine, tenant.id) if r["action"] == "ingest.dead_letter.read"]
    assert [r["actor"].split(":")[0] for r in reads] == ["local-cli", "cli"]
