"""In Chromium: the overview's breakdown views, a product's daily trend and the exchange-rates page (set
a rate, a rejected CSV naming its line, an import), with screenshots for the docs (``make screenshots``)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from tests.console.test_browser import SCREENSHOTS, Console, console, owner, shot

__all__ = ["console", "owner"]  # the seeded server and the signed-in owner of test_browser.py

RANGE = "range=custom&from=2026-11-01&to=2026-11-30"


def test_overview_views_and_product_trend(console: Console, owner: BrowserContext) -> None:
    page = console.watch(owner.new_page())
    for view in ("region", "device", "source"):
        page.goto(f"/t/demo/?{RANGE}&view={view}")
        table = page.locator("#ov-view-table")
        expect(table).to_have_attribute("data-view", view)
        expect(page.locator(f'#views a[data-view="{view}"]')).to_have_attribute("aria-current", "true")
        expect(page.locator("#ov-view-chart canvas")).to_have_count(1)
        assert table.locator("tbody tr").count() > 1
        # Clipped from the full page: an element shot scrolls it under the sticky top bar.
        box = page.evaluate(
            "() => { const r = document.getElementById('views').getBoundingClientRect();"
            " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; }"
        )
        page.screenshot(path=str(_path(f"32-overview-view-{view}")), full_page=True, clip=box)
    # The tabs keep the range.
    page.locator('#views a[data-view="device"]').click()
    expect(page).to_have_url(re.compile(r"from=2026-11-01.*view=device#views$"))

    page.goto("/t/demo/products?date_from=2026-11-01&date_to=2026-11-30")
    page.locator("table.data tbody tr a").first.click()
    expect(page.locator("#product-trend-card")).to_be_visible()
    page.locator("#trend-from").fill("2026-11-01")
    page.locator("#trend-to").fill("2026-11-30")
    page.locator("#product-trend-card").get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"date_from=2026-11-01&date_to=2026-11-30$"))
    expect(page.locator("#product-trend canvas")).to_have_count(1)
    expect(page.locator("#trend-period")).to_contain_text("compared with")
    shot(page, "33-product-trend")
    page.close()
    assert console.errors == []


def _path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def test_exchange_rates_page(console: Console, owner: BrowserContext) -> None:
    page = console.watch(owner.new_page())
    page.goto("/t/demo/settings/fx")
    expect(page.get_by_role("heading", name="Exchange rates", exact=True)).to_be_visible()
    form = page.locator("#fx-set-form")
    form.get_by_label("Currency").fill("GBP")
    form.get_by_label("Valid from").fill("2026-11-01")
    form.get_by_label(re.compile("Rate")).fill("9.1234")
    form.get_by_role("button", name="Save rate").click()
    expect(page.locator('tr[data-rate="GBP:2026-11-01"]')).to_contain_text("9.12340000")

    box = page.locator("#fx-import-form")
    box.get_by_label("CSV").fill("currency,valid_from,rate\nUSD,2026-10-01,7.1\nUSD,2026-13-01,7.2\n")
    box.get_by_role("button", name="Import").click()
    expect(box.locator("[data-api-error]")).to_contain_text("line 3, valid_from")
    expect(page.locator('tr[data-rate^="USD"]')).to_have_count(0)
    # That 422 was the answer the form shows, not a page error.
    console.errors.remove(f"{console.url}/api/v1/t/demo/fx-rates/import: HTTP 422 (fetch)")
    box.get_by_label("CSV").fill("currency,valid_from,rate\nUSD,2026-10-01,7.1\nUSD,2026-11-15,7.05\n")
    box.get_by_role("button", name="Import").click()
    expect(page.locator('tr[data-rate^="USD"]')).to_have_count(2)
    shot(page, "34-exchange-rates", full_page=True)
    zh = console.context()
    zh.add_cookies([*owner.cookies(), {"name": "eco_lang", "value": "zh_CN", "url": console.url}])
    zh_page = console.watch(zh.new_page())
    zh_page.goto("/t/demo/settings/fx")
    expect(zh_page.get_by_role("heading", name="汇率", exact=True)).to_be_visible()
    shot(zh_page, "35-exchange-rates-zh")
    zh.close()
    page.close()
    assert console.errors == []
