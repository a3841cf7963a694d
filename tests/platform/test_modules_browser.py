"""The modules settings page in Debian's Chromium: an owner switches the live module off and on again.

Skipped without chromium, like tests/console/test_browser.py (scripts/browser.sh installs it). The
screenshot goes where that module's go (docs/screenshots/ with `make screenshots`).
"""

from __future__ import annotations

import os
import re
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

from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright  # noqa: E402

from tests.console.conftest import ARGS  # noqa: E402
from tests.console.test_browser import VIEWPORT, shot  # noqa: E402

#: Waits on the page fail after this, never pass or fail by speed (Playwright's default is 5 s).
expect.set_options(timeout=DEADLINE * 1000)

OWNER = "olga@acme.test"


@pytest.fixture(autouse=True)
def _roomy_sign_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")


def _switch(page: Page, module: str, button: str, badge: str) -> None:
    row = page.locator(f'tr[data-module="{module}"]')
    page.once("dialog", lambda dialog: dialog.accept())  # switching off asks first
    row.get_by_role("button", name=button).click()
    expect(page.locator(f'tr[data-module="{module}"] .badge')).to_have_text(badge)


def test_an_owner_switches_live_off_and_on(server: InProcServer) -> None:
    add_member(server.state.engine, OWNER, "owner")
    with signed_in(server, OWNER) as (client, _csrf):  # enrols TOTP: owners must use MFA
        cookies = [{"name": c.name, "value": c.value or "", "url": server.url} for c in client.cookies.jar]
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(base_url=server.url, viewport=VIEWPORT)  # type: ignore[arg-type]
            ctx.set_default_timeout(DEADLINE * 1000)
            ctx.add_cookies(cookies)  # type: ignore[arg-type]
            page = ctx.new_page()

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(message.text)

            page.on("console", on_console)
            page.on("pageerror", lambda e: errors.append(str(e)))
            nav = page.get_by_role("navigation", name="Main navigation")
            page.goto("/t/acme/settings/modules")
            expect(page.get_by_role("heading", level=1, name="Modules")).to_be_visible()
            core = page.locator('tr[data-module="orders"]')
            expect(core.locator(".badge")).to_have_text("core")
            expect(core.get_by_role("button")).to_have_count(0)
            expect(nav.get_by_role("link", name="Live", exact=True)).to_be_visible()

            _switch(page, "live", "Switch off", "off")
            expect(nav.get_by_role("link", name="Live", exact=True)).to_have_count(0)
            expect(
                page.locator('tr[data-module="live"]').get_by_role("button", name="Switch on")
            ).to_be_visible()
            page.evaluate("window.scrollTo(0, 0)")  # the reload kept the scroll of the clicked button
            shot(page, "19-modules", full_page=True)

            page.goto("/t/acme/live")
            expect(page.get_by_text("The live module is switched off for this shop.")).to_be_visible()

            page.goto("/t/acme/settings/modules")
            _switch(page, "live", "Switch on", "on")
            expect(nav.get_by_role("link", name="Live", exact=True)).to_be_visible()
            page.goto("/t/acme/live")
            expect(page).to_have_url(re.compile(r"/t/acme/live$"))
            expect(page.get_by_role("heading", level=1)).not_to_have_text("Not found")
        finally:
            browser.close()
    # The only failed document is the switched-off page's 404; anything else (a CSP violation) fails.
    assert [e for e in errors if "status of 404" not in e] == []
