"""The live demo feed in Chromium: after a short trickle through the real ingest API, the overview's
Today and the live page show non-zero figures, and the live show is on the live page.

The shop's zone is chosen so that it is about noon there whatever time the test runs: a quarter of an
hour of traffic then always falls on "today" and inside a broadcast shift, so the figures do not depend
on the hour of the run. Screenshots go where the console's browser tests put theirs.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import uvicorn
from sqlalchemy import Engine

from ecomops.app import create_app
from ecomops.kernel.clock import utcnow
from ecomops.platform.settings import Settings
from ecomops.security import accounts
from ecomops.simulate.feed import Feed
from ecomops.simulate.trickle import TrickleModel, TrickleParams
from ecomops.tenancy import service as tenancy
from tests.conftest import free_port
from tests.timing import DEADLINE, wait_until

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("chromium is not installed; run scripts/browser.sh", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.console.conftest import ARGS  # noqa: E402
from tests.console.test_browser import SCREENSHOTS, VIEWPORT  # noqa: E402

expect.set_options(timeout=DEADLINE * 1000)
pytestmark = pytest.mark.xdist_group("demo-trickle-browser")
PASSWORD = "correct horse battery staple"


def noon_zone() -> str:
    """An ``Etc/GMT±N`` zone where it is between 11:30 and 12:30 now (POSIX signs are inverted)."""
    now = utcnow()
    offset = round(12 - (now.hour + now.minute / 60))  # -12 … +12 hours, all of them real zones
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture
def shop(settings: Settings, engine: Engine) -> Iterator[tuple[str, str]]:
    tenant = tenancy.create_tenant(engine, "noon", "Noon Shop", noon_zone(), "CNY")
    _, write_key = tenancy.create_source(engine, tenant.slug, "site", "web")
    accounts.create_user(engine, "ana@noon.test", PASSWORD)
    accounts.add_member(engine, "noon", "ana@noon.test", "analyst")
    srv = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started or not thread.is_alive(), "the in-process server to start")
    url = f"http://127.0.0.1:{srv.config.port}"
    model = TrickleModel(
        TrickleParams(seed=42, customers=5000, timezone=tenant.timezone, currency="CNY", rate=4)
    )
    feed = Feed(model, url, write_key)
    try:
        stats = feed.catch_up(utcnow() - timedelta(minutes=15))
        feed.step()
    finally:
        feed.close()
    assert stats.orders > 0 and stats.rejected == 0
    yield url, tenant.slug
    srv.should_exit = True
    thread.join(DEADLINE)


def figure(page: Page, selector: str) -> float:
    text = page.locator(selector).inner_text()
    return float("".join(c for c in text if c.isdigit() or c == ".") or 0)


def test_today_and_the_live_page_show_the_trickle(shop: tuple[str, str]) -> None:
    url, slug = shop
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, base_url=url, locale="en-US")
            page.goto(f"/login?next=/t/{slug}/")
            page.get_by_label("Email").fill("ana@noon.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"/t/{slug}/?range=today")
            expect(page.locator('a[data-range="today"]')).to_have_attribute("aria-current", "true")
            orders = page.locator('.ov-kpi[data-metric="orders"] .ov-kpi-value')
            expect(orders).not_to_have_text("0")
            assert figure(page, '.ov-kpi[data-metric="orders"] .ov-kpi-value') > 0
            assert figure(page, '.ov-kpi[data-metric="gmv"] .ov-kpi-value') > 0
            page.screenshot(path=str(SCREENSHOTS / "19-demo-today.png"))

            page.goto(f"/t/{slug}/live")
            expect(page.locator("#live-orders")).not_to_have_text("–")
            assert figure(page, "#live-orders") > 0 and figure(page, "#live-gmv") > 0
            expect(page.locator("#live-hot tbody tr").first).to_be_visible()
            expect(page.locator("#live-sessions")).to_contain_text("的直播间")
            page.screenshot(path=str(SCREENSHOTS / "20-demo-live.png"), full_page=True)
        finally:
            browser.close()
