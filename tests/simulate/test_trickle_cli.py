"""``ecomops demo trickle`` as ``make demo`` runs it: a process beside a real server that issues its own
write key, feeds the ingest API until SIGTERM, and rotates the key on its next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import Engine

from ecomops.audit import service as audit
from ecomops.platform.context import TenantInfo
from ecomops.tenancy import service as tenancy
from tests.conftest import LiveServer
from tests.timing import DEADLINE, wait_until


def run_feed(server: LiveServer, data_dir: Path, seconds_of_traffic: float) -> str:
    """Start the feed, let it send for a while after it went live, stop it as make's trap does."""
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data_dir), "ECOMOPS_PORT": str(server.port)}
    env.pop("ECOMOPS_DATABASE_URL", None)
    log = data_dir.parent / "feed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            # A high rate, so even the quietest hour of the shop's day sends something within seconds.
            [sys.executable, "-m", "ecomops.cli", "demo", "trickle", "--tenant", "acme", "--rate", "50"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # A CLI start on a busy 2-core machine takes 10 s or more: the deadline only bounds a failure.
        wait_until(
            lambda: "live at" in log.read_text() or proc.poll() is not None,
            "the feed to go live",
            timeout=120,
        )
        assert proc.poll() is None, log.read_text()
        token = {"Authorization": f"Bearer {server.token}"}

        def orders_or_visits() -> bool:
            live = httpx.get(f"{server.url}/api/v1/t/acme/live", headers=token, timeout=10).json()
            return bool(live["today"]["visitors"] >= seconds_of_traffic)

        wait_until(orders_or_visits, "the feed's visits to reach the live figures")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(DEADLINE) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return log.read_text()


def test_the_feed_uses_its_own_source_and_stops_cleanly_on_sigterm(
    live_server: LiveServer, data_dir: Path, engine: Engine, tenant: TenantInfo
) -> None:
    first = run_feed(live_server, data_dir, 3)
    assert "demo feed stopped:" in first and " 0 rejected" in first.replace("\n", " "), first
    (source,) = [s for s in tenancy.list_sources(engine, "acme") if s.name == "demo-trickle"]
    second = run_feed(live_server, data_dir, 6)
    assert "demo feed stopped:" in second, second
    actions = [(r["action"], r["target_id"]) for r in audit.export(engine, tenant.id)]
    assert ("source.create", source.id) in actions and ("source.rotate", source.id) in actions
    dead = httpx.get(
        f"{live_server.url}/api/v1/t/acme/ingest/dead-letters",
        headers={"Authorization": f"Bearer {live_server.token}"},
        timeout=10,
    )
    assert dead.status_code == 200 and dead.json() == [], dead.text
