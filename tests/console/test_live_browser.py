"""The live dashboard in Chromium: an order sent to /v1/batch shows on screen.

Uses the seeded server and the owner signed in with TOTP from ``test_browser`` (same fixtures, its
own module-scoped instance). The path checked here is the whole one a shop operator sees: HTTP
ingest → write-ahead log → warehouse load (flush interval) → the tenant's next snapshot tick → SSE →
the page's redraw. How fast is for bench/live.py: waits here are bounded only to fail, never timed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from ecomops.tenancy import service as tenancy
from tests.console.test_browser import Console, console, owner, shot  # noqa: F401 - fixtures
from tests.timing import DEADLINE

pytestmark = pytest.mark.xdist_group("console-live-browser")

PRODUCT = "直播测试爆款 Live test bestseller"


MORE = [
    ("douyin", "p-live-2", "羊绒围巾 Cashmere scarf", "599.00"),
    ("douyin", "p-live-3", "保温杯 Thermos", "129.00"),
    ("wechat_mini", "p-live-3", "保温杯 Thermos", "129.00"),
    ("tmall", "p-live-4", "蓝牙耳机 Earbuds", "349.00"),
]


def digits(text: str) -> int:
    return int(re.sub(r"\D", "", text) or "0")


def visit(order_id: str) -> dict[str, object]:
    """The page view of the buyer before the order: visitors and conversion count page events."""
    return {
        "type": "page",
        "name": "Product",
        "messageId": f"page-{order_id}",
        "anonymousId": f"anon-{order_id}",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {"path": "/p/live"},
    }


def order(order_id: str, product_id: str, name: str, total: str) -> dict[str, object]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"msg-{order_id}",
        "anonymousId": f"anon-{order_id}",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {
            "order_id": order_id,
            "total": total,
            "currency": "CNY",
            "products": [{"product_id": product_id, "name": name, "price": total, "quantity": 1}],
        },
    }


def send(target: Console, write_key: str, batch: list[dict[str, object]]) -> None:
    r = httpx.post(f"{target.url}/v1/batch", json={"batch": batch}, auth=(write_key, ""), timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == len(batch), r.text


def test_an_order_appears_on_the_live_screen(
    console: Console,  # noqa: F811 - the fixture imported above
    owner: BrowserContext,  # noqa: F811
) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/")
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Live", exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/t/demo/live$"))
    expect(page.get_by_role("heading", level=1, name="Live", exact=True)).to_be_visible()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#live-minutes-chart canvas")).to_have_count(1)
    expect(page.locator("#live-channels-chart canvas")).to_have_count(1)
    orders_before = digits(page.locator("#live-orders").inner_text())
    gmv_before = digits(page.locator("#live-gmv").inner_text())

    _, write_key = tenancy.create_source(console.engine, "demo", "live-browser", "web")
    send(console, write_key, [order("live-browser-1", "p-live-test", PRODUCT, "88888.00")])
    # The new product tops today's ranking (88 888 is far above any simulated line) and the counters move.
    page.wait_for_function(
        "name => document.querySelector('#live-hot tbody').textContent.includes(name)",
        arg=PRODUCT,
        timeout=DEADLINE * 1000,
        polling=20,
    )
    assert digits(page.locator("#live-orders").inner_text()) >= orders_before + 1
    assert digits(page.locator("#live-gmv").inner_text()) >= gmv_before + 88888
    expect(page.locator("#live-hot tbody tr").first).to_contain_text(PRODUCT)

    # A few more orders from other channels, so the screenshots show a channel split and a ranking.
    keys = {
        channel: tenancy.create_source(console.engine, "demo", f"live-{channel}", channel)[1]
        for channel in {channel for channel, *_ in MORE}
    }
    for n, (channel, product, name, total) in enumerate(MORE):
        oid = f"live-browser-{n + 2}"
        send(
            console,
            keys[channel],
            [visit(oid), visit(f"{oid}-window-shopper"), order(oid, product, name, total)],
        )
    expect(page.locator("#live-orders")).to_have_text(
        str(orders_before + 1 + len(MORE)), timeout=DEADLINE * 1000
    )
    page.emulate_media(reduced_motion="reduce")  # no highlight animation in the screenshot
    expect(page.locator("#live-channels-chart canvas")).to_have_count(1)
    shot(page, "17-live")
    page.close()

    # Big screen: dark, no navigation, the same figures, refreshed by the same stream.
    big = console.watch(owner.new_page())
    big.emulate_media(reduced_motion="reduce")
    big.goto("/t/demo/live?screen=big")
    expect(big.locator("body.live-big")).to_have_count(1)
    expect(big.get_by_role("navigation", name="Main navigation")).to_have_count(0)
    expect(big.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(big.locator("#live-hot tbody tr").first).to_contain_text(PRODUCT)
    expect(big.locator("#live-traffic-chart canvas")).to_have_count(1)
    assert big.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(12, 17, 29)"
    shot(big, "18-live-big-screen")
    big.get_by_role("link", name="Exit big screen").click()
    expect(big).to_have_url(re.compile(r"/t/demo/live$"))
    big.close()
    assert console.errors == []
