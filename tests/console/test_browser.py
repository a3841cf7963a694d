"""The console in a real browser: Debian's Chromium driven by Playwright (never `playwright install`).

One server with a seeded demo shop serves the whole module; the owner enrols TOTP through the pages
(the secret is read from the enrolment page, codes computed with pyotp) and later signs in with a
code. Every page is saved to docs/screenshots/ (1280×800) for the docs, and every page must load
without a console error: a Content-Security-Policy violation (an inline script, an eval in Alpine)
shows up there.

Without chromium the module is skipped locally (scripts/browser.sh installs it) and fails under CI.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyotp
import pytest
from sqlalchemy import Engine, update

from ecomops.kernel.clock import utcnow
from ecomops.platform.context import TenantInfo
from ecomops.platform.store.db import session_scope
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy import vault
from ecomops.security import accounts
from ecomops.security.models import UserSession
from ecomops.simulate.params import SeedParams
from ecomops.tenancy import service as tenancy
from tests.conftest import REPO
from tests.console.conftest import PASSWORD, served_shop
from tests.timing import DEADLINE, ManualDateTime

SESSIONS_SAMPLE = REPO / "tests" / "imports" / "fixtures" / "online_shoppers" / "online_shoppers_sample.csv"
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed: run scripts/browser.sh (CI must run the browser tests)")
    pytest.skip(
        "chromium is not installed; run scripts/browser.sh to enable browser tests", allow_module_level=True
    )

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    expect,
)

#: Waits on the page fail after this, never pass or fail by speed (Playwright's default is 5 s).
expect.set_options(timeout=DEADLINE * 1000)

#: One worker runs the whole module (one seeded server, one browser) under `pytest -n 2 --dist loadgroup`.
pytestmark = pytest.mark.xdist_group("console-browser")

#: The docs' screenshots are refreshed only on request (`make screenshots`), so a test run leaves the
#: tree clean; otherwise they go to a temporary folder (still taken: rendering must not fail).
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("ECOMOPS_SCREENSHOTS") == "docs"
    else Path(tempfile.gettempdir()) / "ecomops-screenshots"
)
VIEWPORT = {"width": 1280, "height": 800}
OWNER = "owner@demo.ecomops.test"


@dataclass
class Console:
    url: str
    tenant: TenantInfo
    browser: Browser
    engine: Engine
    #: The server's TOTP clock (``security.mfa`` checks codes against it), moved only by ``code``.
    totp_clock: ManualDateTime
    totp: pyotp.TOTP | None = None
    errors: list[str] = field(default_factory=list)

    def code(self) -> str:
        """A TOTP code the server will take. Codes are single-use per 30-second step, so each one moves the
        server's TOTP clock to the next step instead of waiting for the wall clock to get there."""
        assert self.totp is not None
        self.totp_clock.advance(30)
        return self.totp.at(self.totp_clock())

    def context(self, **options: object) -> BrowserContext:
        ctx = self.browser.new_context(viewport=VIEWPORT, base_url=self.url, **options)  # type: ignore[arg-type]
        ctx.set_default_timeout(DEADLINE * 1000)
        return ctx

    def watch(self, page: Page) -> Page:
        """Collect script errors, CSP violations and failed sub-resources (documents may be 4xx)."""

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                self.errors.append(f"{page.url}: {message.text}")

        def on_response(response: Response) -> None:
            if response.status >= 400 and response.request.resource_type != "document":
                self.errors.append(
                    f"{response.url}: HTTP {response.status} ({response.request.resource_type})"
                )

        page.on("console", on_console)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        page.on("response", on_response)
        return page


def shot(page: Page, name: str, full_page: bool = False) -> None:
    """The viewport, or the whole scrolled page for long dashboards (``full_page``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _people(engine: Engine) -> None:
    """The owner (an analyst in a second shop), an analyst, and an account that is no member yet."""
    tenancy.create_tenant(engine, "outlet", "Lumière Outlet", "Asia/Shanghai", "CNY")
    accounts.create_user(engine, OWNER, PASSWORD)
    accounts.add_member(engine, "demo", OWNER, "owner")
    accounts.add_member(engine, "outlet", OWNER, "analyst")
    accounts.create_user(engine, "ana@demo.ecomops.test", PASSWORD)
    accounts.add_member(engine, "demo", "ana@demo.ecomops.test", "analyst")
    accounts.create_user(engine, "mia@demo.ecomops.test", PASSWORD)  # an account, not yet a member


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    params = SeedParams(days=30, customers=500, seed=11, end_date=date(2026, 11, 30))
    with served_shop(data_dir, params, _people) as shop:
        with tenant_session(shop.engine, shop.tenant.id) as s:
            vault.upsert_pii(
                s, shop.tenant.id, "sim_c0000381", {"name": "王小明", "email": "xiaoming.wang@example.com"}
            )
        yield Console(shop.url, shop.tenant, shop.browser, shop.engine, shop.totp_clock)


@pytest.fixture(scope="module")
def owner(console: Console) -> Iterator[BrowserContext]:
    """The owner's browser, signed in: password, then TOTP enrolment through the pages (QR + secret)."""
    ctx = console.context()
    page = console.watch(ctx.new_page())
    page.goto("/t/demo/orders")
    expect(page).to_have_url(re.compile(r"/login\?next=/t/demo/orders$"))
    shot(page, "01-login")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/mfa$"))  # owners must use MFA
    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = page.locator("p.hint code").inner_text()
    console.totp = pyotp.TOTP(secret)
    shot(page, "02-mfa-enrol")
    page.get_by_label("Code from the app").fill(console.code())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("ol.codes li")).to_have_count(10)
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page).to_have_url(re.compile(r"/t/demo/$"))
    page.close()
    yield ctx
    ctx.close()


def test_sign_in_with_a_totp_code(console: Console, owner: BrowserContext) -> None:
    ctx = console.context()
    page = console.watch(ctx.new_page())
    page.goto("/login?next=/t/demo/products")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/mfa"))
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Authentication code").fill(console.code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/t/demo/products$"))
    expect(page.get_by_role("heading", name="Products", exact=True)).to_be_visible()
    # Sign out from the user menu ends the session.
    page.locator("#user-menu summary").click()
    page.locator("#user-menu").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/t/demo/orders")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    ctx.close()
    assert console.errors == []


def test_navigate_the_shell(console: Console, owner: BrowserContext) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/")
    shot(page, "03-home", full_page=True)
    nav = page.get_by_role("navigation", name="Main navigation")
    for label, path, heading, name in [
        ("Orders", "/t/demo/orders", "Orders", "04-orders"),
        ("Products", "/t/demo/products", "Products", "06-products"),
        ("Customers", "/t/demo/customers", "Customers", "08-customers"),
        ("Members", "/t/demo/settings/members", "Members", "11-members"),
        ("API keys", "/t/demo/settings/keys", "API keys", ""),  # shot later, with a new key on screen
    ]:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")
        if name:
            shot(page, name)
    # Customers: personal data masked in the list and the profile.
    page.goto("/t/demo/customers/sim_c0000381")
    expect(page.get_by_text("王**", exact=True)).to_be_visible()
    expect(page.get_by_text("x***@example.com", exact=True)).to_be_visible()
    assert "xiaoming.wang" not in page.content()
    # Product detail from the list.
    page.goto("/t/demo/products")
    page.locator("#products-results tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Sales by channel")).to_be_visible()
    shot(page, "07-product")
    # Audit log: verify the chain.
    page.goto("/t/demo/settings/audit")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator('[data-verify="ok"]')).to_be_visible()
    shot(page, "13-audit")
    # Tenant switcher: the owner is an analyst in the outlet, whose navigation has no settings.
    page.locator("#tenant-switcher summary").click()
    page.locator("#tenant-switcher").get_by_role("link", name=re.compile("Lumière Outlet")).click()
    expect(page).to_have_url(re.compile(r"/t/outlet/$"))
    expect(page.locator('[data-nav="members"]')).to_have_count(0)
    # Keyboard: the skip link is the first stop and has a visible focus ring.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.evaluate("e => getComputedStyle(e).left") == "8px"
    # Narrow screens: the sidebar is a drawer opened by the menu button.
    page.set_viewport_size({"width": 420, "height": 800})
    page.emulate_media(reduced_motion="reduce")  # no drawer animation in the screenshot
    page.goto("/t/demo/orders")
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(
        page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Products")
    ).to_be_in_viewport()
    shot(page, "15-narrow")
    page.close()
    assert console.errors == []


def test_orders_filter_and_open_a_detail(console: Console, owner: BrowserContext) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/orders")
    page.get_by_label("Channel").select_option("douyin")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"channel=douyin"))  # HTMX swapped the results and pushed the URL
    channels = page.locator("#orders-results tbody tr td:nth-child(4)")
    expect(channels.first).to_have_text("Douyin")  # the channel's label; the URL keeps its identifier
    assert set(channels.all_inner_texts()) == {"Douyin"}
    first = page.locator("#orders-results tbody tr a[data-order]").first
    order_id = first.get_attribute("data-order")
    first.click()
    expect(page).to_have_url(re.compile(rf"/t/demo/orders/{order_id}$"))
    expect(page.locator("#order-items tbody tr").first).to_be_visible()
    expect(page.get_by_role("heading", name="Refunds")).to_be_visible()
    shot(page, "05-order")
    page.close()
    assert console.errors == []


def test_chinese_labels_and_yuan(console: Console, owner: BrowserContext) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/orders")
    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    nav = page.get_by_role("navigation", name="主导航")
    expect(nav.get_by_role("link", name="订单", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="商品", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=1, name="订单")).to_be_visible()
    totals = page.locator("#orders-results tbody tr td:last-child").all_inner_texts()
    assert totals and all(re.fullmatch(r"¥[\d,]+\.\d\d", t) for t in totals), totals[:3]
    shot(page, "14-orders-zh-CN")
    page.goto("/t/demo/products")
    expect(page.get_by_role("columnheader", name="销量")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.close()
    assert console.errors == []


def online_retail_csv(path: Path, rows: int) -> Path:
    lines = ["Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"]
    for i in range(rows):
        invoice = 700000 + i // 4
        lines.append(
            f"{invoice},SKU{i % 37},ITEM {i % 37},{1 + i % 5},2026-11-{1 + i % 28:02d} 10:{i % 60:02d}:00,"
            f"{1 + i % 9}.50,{13000 + i % 250},United Kingdom"
        )
    lines.append("799999,SKUX,BROKEN,many,2026-11-02 10:00:00,1.00,13001,United Kingdom")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_upload_an_import_and_watch_it_finish(
    console: Console, owner: BrowserContext, tmp_path: Path
) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/imports")
    page.get_by_label("Format", exact=True).select_option("online-retail-ii")
    page.get_by_label("Files", exact=True).set_input_files(
        str(online_retail_csv(tmp_path / "retail.csv", 4000))
    )
    page.get_by_role("button", name="Start import").click()
    job = page.locator("#import-progress .import-job").first
    expect(job).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(job.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100.0")
    expect(job.locator("[data-summary]")).to_contain_text("rejected 1")
    rejects = job.get_by_role("link", name="Download reject report")
    with page.expect_download() as download:
        rejects.click()
    assert "many" in Path(download.value.path()).read_text()
    shot(page, "10-imports")
    page.close()
    assert console.errors == []


def test_import_sessions_and_read_their_conversion(console: Console, owner: BrowserContext) -> None:
    """UCI-layout session rows through the imports page (with a reference date), then the Sessions page
    split by visitor type: the figures are the file's own, computed by pandas."""
    frame = pd.read_csv(SESSIONS_SAMPLE)
    page = console.watch(owner.new_page())
    page.goto("/t/demo/imports")
    page.get_by_label("Format", exact=True).select_option("uci-online-shoppers")
    page.get_by_label("Files", exact=True).set_input_files(str(SESSIONS_SAMPLE))
    page.get_by_label("Reference date (sessions without a year)").fill("2017-12-31")
    page.get_by_role("button", name="Start import").click()
    # This file's job: an earlier test's finished import may be listed too.
    job = page.locator("#import-progress .import-job", has_text=SESSIONS_SAMPLE.name).first
    expect(job).to_have_attribute("data-status", "succeeded", timeout=60_000)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("heading", level=1, name="Sessions", exact=True)).to_be_visible()
    page.get_by_label("Breakdown").select_option("visitor_type")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"breakdown=visitor_type"))
    names = {"Returning_Visitor": "returning", "New_Visitor": "new", "Other": "other"}
    expected = frame.groupby(frame.VisitorType.map(names)).Revenue.agg(["count", "sum"])
    rows = page.locator("#sessions-table tbody tr")
    expect(rows).to_have_count(len(expected))
    for value, row in expected.iterrows():
        cells = page.locator("#sessions-table tbody tr", has_text=str(value)).locator("td")
        expect(cells.nth(1)).to_have_text(f"{int(row['count']):,}")
        expect(cells.nth(2)).to_have_text(f"{int(row['sum']):,}")
    expect(page.locator("#sessions-total-rate")).to_have_text(f"{frame.Revenue.mean() * 100:.2f} %")
    shot(page, "37-sessions")
    page.close()
    assert console.errors == []


def test_create_a_source_and_get_snippets_with_its_key(console: Console, owner: BrowserContext) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/sources")
    page.get_by_label("Name").fill("Mini program")
    page.get_by_label("Channel").select_option("wechat_mini")
    page.get_by_role("button", name="Create source").click()
    secret = page.locator("#new-source-secret")
    expect(secret).to_have_text(re.compile(r"^wk_"))
    key = secret.inner_text()
    expect(page.locator("#snippet-http")).to_contain_text(f'curl -u "{key}:" {console.url}/v1/track')
    page.get_by_role("tab", name="Python").click()
    expect(page.locator("#snippet-python")).to_be_visible()
    expect(page.locator("#snippet-python")).to_contain_text(f'auth=("{key}", "")')
    expect(page.locator("#sources-list")).to_contain_text("Mini program")
    shot(page, "09-sources")
    page.close()
    assert console.errors == []


def test_sensitive_actions_step_up_and_come_back(console: Console, owner: BrowserContext) -> None:
    """A second factor older than 10 minutes: the API answers step_up_required, the page sends the user to
    /step-up?next=<this page>, and after a code they are back and the action goes through."""
    with session_scope(console.engine) as s:
        s.execute(update(UserSession).values(mfa_at=utcnow() - timedelta(minutes=30)))
    page = console.watch(owner.new_page())
    page.goto("/t/demo/settings/keys")
    page.get_by_label("Name").fill("Nightly report")
    page.get_by_label("Role").select_option("analyst")
    page.get_by_role("button", name="Create key").click()
    expect(page).to_have_url(re.compile(r"/step-up\?next=%2Ft%2Fdemo%2Fsettings%2Fkeys$"))
    refused = [e for e in console.errors if e.endswith("/api/v1/t/demo/keys: HTTP 403 (fetch)")]
    assert len(refused) == 1  # the API's step_up_required answer sent us here
    console.errors.remove(refused[0])
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_label("Authentication code").fill(console.code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/t/demo/settings/keys$"))
    page.get_by_label("Name").fill("Nightly report")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-secret")).to_have_text(re.compile(r"^eco_live_"))
    expect(page.locator("#keys-list")).to_contain_text("Nightly report")
    shot(page, "12-api-keys")
    # With the fresh factor a role change goes through at once.
    page.goto("/t/demo/settings/members")
    with page.expect_response(lambda r: r.url.endswith("/role")) as changed:
        page.get_by_label("Role of ana@demo.ecomops.test").select_option("marketer")
    assert changed.value.status == 200
    page.wait_for_load_state("load")  # the script reloads the list after a change
    expect(page.get_by_label("Role of ana@demo.ecomops.test")).to_have_value("marketer")
    # Invite a member (the link is shown once, the invitation listed), revoke one invitation, let Mia
    # accept another in her own browser, remove her again (confirmed in a dialog), relax and restore
    # the MFA policy.
    page.on("dialog", lambda dialog: dialog.accept())
    invite_form = page.locator("#add-member-form")
    invite_form.get_by_label("Email").fill("leo@demo.ecomops.test")
    invite_form.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Invite", exact=True).click()
    expect(page.locator("#new-invitation-link")).to_have_text(
        re.compile(r"/invitations/accept\?token=[\w-]{40,}$")
    )
    expect(page.locator("#invitations-list")).to_contain_text("leo@demo.ecomops.test")
    page.get_by_role("button", name="Revoke the invitation of leo@demo.ecomops.test").click()
    expect(page.locator("#invitations-list")).not_to_contain_text("leo@demo.ecomops.test")
    invite_form.get_by_label("Email").fill("mia@demo.ecomops.test")
    invite_form.get_by_label("Role").select_option("operator")
    page.get_by_role("button", name="Invite", exact=True).click()
    expect(page.locator("#new-invitation-link")).to_have_text(
        re.compile(r"/invitations/accept\?token=[\w-]{40,}$")
    )
    expect(page.locator("#invitations-list")).to_contain_text("mia@demo.ecomops.test")
    shot(page, "11-members-invitation")
    link = page.locator("#new-invitation-link").inner_text()
    mia_ctx = console.context()
    mia = console.watch(mia_ctx.new_page())
    mia.goto(link)
    expect(mia).to_have_url(re.compile(r"/login\?next=%2Finvitations%2Faccept%3Ftoken%3D"))
    mia.get_by_label("Email").fill("mia@demo.ecomops.test")
    mia.get_by_label("Password").fill(PASSWORD)
    mia.get_by_role("button", name="Sign in").click()
    expect(mia.get_by_text("You are invited to join")).to_contain_text("Operator")
    mia.get_by_role("button", name="Accept and join").click()
    expect(mia).to_have_url(re.compile(r"/t/demo/$"))
    mia_ctx.close()
    page.reload()
    expect(page.get_by_label("Role of mia@demo.ecomops.test")).to_have_value("operator")
    expect(page.locator("#invitations-list")).to_contain_text("No pending invitations.")
    page.get_by_role("button", name="Remove mia@demo.ecomops.test").click()
    expect(page.get_by_label("Role of mia@demo.ecomops.test")).to_have_count(0)
    policy = "Owners and admins must use two-factor authentication"
    for required in (False, True):
        page.get_by_label(policy).set_checked(required)
        with page.expect_response(lambda r: r.url.endswith("/mfa-policy")) as saved:
            page.get_by_role("button", name="Save policy").click()
        assert saved.value.status == 200
        page.wait_for_load_state("load")
        expect(page.get_by_label(policy)).to_be_checked(checked=required)
    # Revoke the key made above.
    page.goto("/t/demo/settings/keys")
    page.get_by_role("button", name="Revoke Nightly report").click()
    expect(page.locator("#keys-list")).to_contain_text("revoked")
    page.close()
    assert console.errors == []


def test_overview_numbers_equal_the_api_and_drill_down(console: Console, owner: BrowserContext) -> None:
    """Sign in with a TOTP code straight to the overview (Double 11 preset), pick a custom range, compare
    each KPI card with the metrics API for it, then click the GMV card into the orders list for that range."""
    from decimal import Decimal

    from ecomops.analytics.overview import CARDS
    from ecomops.platform.console import i18n

    ctx = console.context()
    page = console.watch(ctx.new_page())
    page.goto("/t/demo/?range=d11")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code").fill(console.code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/t/demo/\?range=d11$"))
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
    expect(page.locator('a[data-range="d11"]')).to_have_attribute("aria-current", "true")
    expect(page.locator("#ov-kpi-heading")).to_have_count(1)
    # A custom range through the picker (two weeks with a previous period in the seeded data).
    page.get_by_label("From", exact=True).fill("2026-11-16")
    page.get_by_label("To", exact=True).fill("2026-11-29")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"range=custom&from=2026-11-16&to=2026-11-29$"))
    expect(page.locator("#ov-trend canvas")).to_have_count(1)  # ECharts drew the trend
    answer = page.request.get(
        "/api/v1/t/demo/metrics",
        params={"ids": ",".join(c.metric for c in CARDS), "from": "2026-11-16", "to": "2026-11-29"},
    )
    assert answer.ok, answer.text()
    body = answer.json()
    units = {m["id"]: m["unit"] for m in body["metrics"]}
    values = body["totals"][0]["values"]
    assert Decimal(values["gmv"]) > 0 and values["visitors"] > 0
    for card in CARDS:
        value = values[card.metric]
        unit = units[card.metric]
        if value is None:
            want = "–"
        elif unit == "money":
            want = i18n.money(Decimal(value), "CNY", "en")
        elif unit == "count":
            want = i18n.number(int(value), "en")
        elif card.metric == "roas":
            want = i18n.number(Decimal(str(value)), "en", 2)
        else:
            want = i18n.percent(value, "en")
        shown = page.locator(f'a.ov-kpi[data-metric="{card.metric}"] .ov-kpi-value').inner_text()
        assert shown == want, (card.metric, shown, want)
    funnel_orders = page.locator('li[data-step="orders"]').get_attribute("data-value")
    assert funnel_orders is not None and int(funnel_orders) > 0
    shot(page, "16-overview", full_page=True)
    page.locator('a.ov-kpi[data-metric="gmv"]').click()
    expect(page).to_have_url(re.compile(r"/t/demo/orders\?date_from=2026-11-16&date_to=2026-11-29$"))
    expect(page.locator("#f-from")).to_have_value("2026-11-16")
    expect(page.locator("#f-to")).to_have_value("2026-11-29")
    expect(page.locator("#orders-results tbody tr").first).to_be_visible()
    # A channel slice leads to the orders of that channel in the same range.
    page.go_back()
    channel = page.locator("tr[data-channel]").first.get_attribute("data-channel")
    page.locator("tr[data-channel]").first.get_by_role("link", name=channel or "").first.click()
    expect(page).to_have_url(re.compile(rf"channel={re.escape(channel or '')}$"))
    # In Chinese: translated labels, yuan amounts in the shop currency.
    page.goto("/t/demo/?range=d11")
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", level=1, name="概览")).to_be_visible()
    expect(page.locator('a.ov-kpi[data-metric="gmv"] .ov-kpi-label')).to_have_text("成交总额")
    expect(page.locator('a.ov-kpi[data-metric="gmv"] .ov-kpi-value')).to_have_text(
        re.compile(r"^¥[\d,]+\.\d\d$")
    )
    expect(page.locator('a[data-range="d11"]')).to_have_text("双十一")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    ctx.close()
    assert console.errors == []
