"""``ecomops live show`` without a server (read-only file) and through a running ``ecomops serve``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from ecomops.cli import app
from ecomops.kernel.clock import utcnow
from ecomops.live import cli as live_cli
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.conftest import start_server


class SteppedTime:
    """Stands in for ``time`` in ``live.cli``: ``sleep`` moves ``monotonic`` and nothing else does, so the
    line count of ``--follow N`` cannot depend on how long each fetch took on this machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_live_show_locally_and_through_the_server(
    settings: Settings, tenant: TenantInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        for oid, status, total in (("o1", "paid", "300.0000"), ("o2", "pending", "45.5000")):
            cur.execute(
                """INSERT INTO orders (order_id, channel, customer_id, status, ordered_at, currency,
                                       subtotal, total, items_count)
                   VALUES (?, 'douyin', 'c1', ?, ?, 'CNY', ?, ?, 1)""",
                [oid, status, utcnow() - timedelta(seconds=5), total, total],
            )
    wh.close()
    runner = CliRunner()
    local = runner.invoke(app, ["live", "show", "--tenant", "acme", "--json"])
    assert local.exit_code == 0, local.output
    snap = json.loads(local.stdout)
    # A pending order is placed (GMV counts it, as the metrics do) and also waits to be paid.
    assert snap["today"]["orders"] == 2 and snap["today"]["gmv"] == "345.5000"
    assert [o["order_id"] for o in snap["unpaid"]] == ["o2"]
    table = runner.invoke(app, ["live", "show", "--tenant", "acme"])
    assert table.exit_code == 0 and "GMV 345.5000 CNY" in table.stdout and "douyin" in table.stdout
    missing = runner.invoke(app, ["live", "show", "--tenant", "nope"])
    assert missing.exit_code == 1
    server = start_server(settings.resolved_data_dir)
    try:
        through = runner.invoke(app, ["live", "show", "--tenant", "acme", "--json"])
        assert through.exit_code == 0, through.output
        assert json.loads(through.stdout)["today"]["gmv"] == "345.5000"
        monkeypatch.setattr(live_cli, "time", SteppedTime())
        follow = runner.invoke(app, ["live", "show", "--tenant", "acme", "--follow", "2"])
        assert follow.exit_code == 0 and follow.stdout.count("GMV 345.5000 CNY") == 2, follow.stdout
    finally:
        server.stop()
