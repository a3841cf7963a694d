"""The alerts page in Debian's Chromium: the create form works through console.js under the CSP.

Skipped without chromium, like tests/console/test_browser.py (scripts/browser.sh installs it).
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.timing import DEADLINE

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed: run scripts/browser.sh (CI must run the browser tests)")
    pytest.skip("chromium is not installed", allow_module_level=True)

from playwright.sync_api import ConsoleMessage, expect, sync_playwright  # noqa: E402

#: Waits on the page fail after this, never pass or fail by speed (Playwright's default is 5 s).
expect.set_options(timeout=DEADLINE * 1000)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def test_create_disable_and_delete_a_rule_in_the_browser(server: InProcServer) -> None:
    add_member(server.state.engine, "otto@acme.test", "operator")
    with signed_in(server, "otto@acme.test") as (client, _csrf):
        cookies = [{"name": c.name, "value": c.value or "", "url": server.url} for c in client.cookies.jar]
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
            ctx.set_default_timeout(DEADLINE * 1000)
            ctx.add_cookies(cookies)  # type: ignore[arg-type]
            page = ctx.new_page()

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(message.text)

            page.on("console", on_console)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto("/t/acme/alerts")
            expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
            page.fill("#alert-name", "tmall floor")
            page.select_option("#alert-metric", "gmv")
            page.select_option("#alert-condition", "below")
            page.fill("#alert-threshold", "5000")
            page.select_option("#alert-breakdown", "channel")
            page.fill("#alert-breakdown-value", "tmall")
            page.fill("#alert-min-volume", "3")
            page.click("#alert-form button[type=submit]")
            row = page.locator("#alerts-list tr", has_text="tmall floor")
            expect(row).to_contain_text("gmv per day for channel=tmall below 5000")
            expect(row).to_contain_text("enabled")

            # A duplicate name is refused by the API and the error is shown next to the form.
            page.fill("#alert-name", "tmall floor")
            page.fill("#alert-threshold", "1")
            page.click("#alert-form button[type=submit]")
            expect(page.locator("#alert-form [data-api-error]")).to_contain_text("exists already")

            row.get_by_role("button", name="Disable").click()
            expect(page.locator("#alerts-list tr", has_text="tmall floor")).to_contain_text("disabled")
            page.once("dialog", lambda dialog: dialog.accept())
            page.locator("#alerts-list tr", has_text="tmall floor").get_by_role(
                "button", name="Delete"
            ).click()
            expect(page.locator("#alerts-list")).to_contain_text("No alert rules yet.")
        finally:
            browser.close()
    # The refused duplicate is the only failed request; anything else (a CSP violation) is a failure.
    assert [e for e in errors if "status of 409" not in e] == []
    assert len(errors) == 1
