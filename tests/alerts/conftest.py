"""A small shop with known numbers for the alert tests, and a local webhook receiver.

Tenant ``acme`` (Asia/Shanghai, CNY). The clock is fixed at 2026-11-20 10:05 local time, so:

- the last complete hour is 2026-11-20 09:00–10:00 and the same hour last week 2026-11-13 09:00;
- the last complete day is 2026-11-19, the day before 2026-11-18;
- the 14 sales days for stock cover are 2026-11-06 … 2026-11-19.

Every day 2026-11-05 … 2026-11-19 has 10 tmall and 10 web orders of 100.00 at noon, and each tmall
order has a line of product P1 (qty 2 on the first order, otherwise none) — see ``seed``. The hour
09:00 on 11-13 has 100 visitors and 10 web buyers (10 %); on 11-20 100 visitors and 5 buyers (5 %).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from tests.timing import DEADLINE

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 5, tzinfo=ZONE).astimezone(UTC)
FIRST_DAY, LAST_DAY = date(2026, 11, 5), date(2026, 11, 19)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture(autouse=True)
def alert_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local receivers are allowed and retries do not wait (settings are re-read after this). The
    per-attempt timeout only bounds a failure: a receiver slowed by a loaded machine is not a retry."""
    monkeypatch.setenv("ECOMOPS_ALERTS_ALLOW_PRIVATE_WEBHOOKS", "true")
    monkeypatch.setenv("ECOMOPS_ALERTS_WEBHOOK_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("ECOMOPS_ALERTS_WEBHOOK_TIMEOUT_SECONDS", str(DEADLINE))
    get_settings.cache_clear()


def _order(cur: Any, oid: str, at: datetime, channel: str, customer: str, total: str = "100") -> None:
    cur.execute(
        "INSERT INTO orders (order_id, channel, customer_id, status, ordered_at, currency, subtotal, total) "
        "VALUES (?, ?, ?, 'paid', ?, 'CNY', ?, ?)",
        [oid, channel, customer, at, total, total],
    )


def _line(cur: Any, oid: str, product: str, qty: int, at: datetime) -> None:
    cur.execute(
        "INSERT INTO order_items (item_id, order_id, product_id, sku, quantity, unit_price, line_total, "
        "currency, ordered_at) VALUES (?, ?, ?, ?, ?, 10, ?, 'CNY', ?)",
        [f"{oid}-{product}", oid, product, f"SKU-{product}", qty, qty * 10, at],
    )


def _visits(cur: Any, prefix: str, hour_start: datetime, count: int) -> None:
    cur.executemany(
        "INSERT INTO events (message_id, type, anonymous_id, ts, received_at) VALUES (?, 'page', ?, ?, ?)",
        [
            [f"{prefix}-{i}", f"{prefix}-anon-{i}", hour_start + timedelta(minutes=i % 50), hour_start]
            for i in range(count)
        ],
    )


def seed(wh: Warehouse) -> None:
    with wh.write() as cur:
        day = FIRST_DAY
        while day <= LAST_DAY:
            for i in range(10):
                at = local(day, 12, i)
                _order(cur, f"t-{day}-{i}", at, "tmall", f"c-t-{i}")
                _order(cur, f"w-{day}-{i}", at, "web", f"c-w-{i}")
            # P1: 2 units a day (28 in the 14-day window: 2/day); P2: 1 a day (14: 1/day).
            _line(cur, f"t-{day}-0", "P1", 2, local(day, 12, 0))
            _line(cur, f"t-{day}-1", "P2", 1, local(day, 12, 1))
            day += timedelta(days=1)
        _visits(cur, "lw", local(date(2026, 11, 13), 9), 100)
        _visits(cur, "now", local(date(2026, 11, 20), 9), 100)
        for i in range(10):
            _order(cur, f"h-lw-{i}", local(date(2026, 11, 13), 9, i), "web", f"lw-anon-{i}", "50")
        for i in range(5):
            _order(cur, f"h-now-{i}", local(date(2026, 11, 20), 9, i), "web", f"now-anon-{i}", "50")
        cur.executemany(
            "INSERT INTO products (product_id, sku, name, category) VALUES (?, ?, ?, ?)",
            [
                ["P1", "SKU-P1", "Green tea", "tea"],
                ["P2", "SKU-P2", "Black tea", "tea"],
                ["P3", "SKU-P3", "Mug", "ware"],
            ],
        )
        cur.executemany(
            "INSERT INTO inventory_snapshots (snapshot_at, product_id, warehouse_code, on_hand) "
            "VALUES (?, ?, ?, ?)",
            [
                [local(date(2026, 11, 1), 8), "P1", "W1", 500],  # older: superseded
                [local(date(2026, 11, 19), 20), "P1", "W1", 4],  # 4 on hand / 2 a day = 2 days
                [local(date(2026, 11, 25), 8), "P1", "W1", 1000],  # after the fixed clock: ignored
                [local(date(2026, 11, 19), 20), "P2", "W1", 50],
                [local(date(2026, 11, 19), 20), "P2", "W2", 50],  # 100 / 1 a day = 100 days
            ],
        )


@pytest.fixture
def shop_settings(alert_env: None, data_dir: Path) -> Settings:
    return get_settings()


@pytest.fixture
def shop(shop_settings: Settings, engine: Any, tenant: Any) -> Iterator[Warehouse]:
    wh = open_warehouse(shop_settings.warehouse_dir(), tenant.id)
    seed(wh)
    yield wh
    wh.close()


@dataclass
class Receiver:
    """A local HTTP endpoint that records each request and answers from a script of statuses."""

    url: str
    statuses: list[int]
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append({"headers": dict(self.headers), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"status": status}).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
