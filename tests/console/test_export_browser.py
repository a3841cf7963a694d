"""The customers page in Chromium: filter, sort by a column header, and download the CSV the export link
offers (the page's filters, a BOM, every matching row); screenshots in English and Chinese.

Reuses ``test_browser``'s seeded console and signed-in owner (a server of its own for this module).
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.console.test_browser import (  # noqa: F401 - module fixtures used by the tests below
    Console,
    console,
    owner,
    shot,
)

pytestmark = pytest.mark.xdist_group("console-export-browser")


def _amount(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


def test_customers_filter_sort_and_export(console: Console, owner: BrowserContext) -> None:  # noqa: F811
    page = console.watch(owner.new_page())
    page.goto("/t/demo/customers")
    page.get_by_label("Min orders").fill("1")
    page.get_by_label("Sort by").select_option("spend")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"min_orders=1.*sort=spend"))
    spend = [
        _amount(t) for t in page.locator("#customers-results tbody tr td:nth-child(7)").all_inner_texts()
    ]
    assert spend and spend == sorted(spend, reverse=True)
    page.locator("th a[data-sort=orders]").click()  # a header sorts by its column
    expect(page.locator("th[aria-sort=descending] a[data-sort=orders]")).to_be_visible()
    orders = [int(t) for t in page.locator("#customers-results tbody tr td:nth-child(6)").all_inner_texts()]
    assert orders == sorted(orders, reverse=True) and min(orders) >= 1
    total = int(re.sub(r"\D", "", page.locator("#customers-heading").inner_text()))
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    body = info.value.path().read_bytes()
    assert body.startswith("\ufeff".encode()) and info.value.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 1 + total and all(int(r[8]) >= 1 for r in rows[1:])
    shot(page, "35-customers-filters-en")
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("link", name="导出 Excel")).to_be_visible()
    shot(page, "35-customers-filters-zh_CN")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.close()
    assert console.errors == []


def test_overview_table_export_in_the_browser(console: Console, owner: BrowserContext) -> None:  # noqa: F811
    """A card's export link downloads that table for the range on screen: the top products as listed."""
    page = console.watch(owner.new_page())
    page.goto("/t/demo/?range=30d")
    card = page.locator("section[aria-labelledby=ov-products-heading]")
    shown = card.locator("tbody tr[data-product]").evaluate_all("rows => rows.map(r => r.dataset.product)")
    with page.expect_download() as info:
        card.get_by_role("link", name="Export CSV").click()
    rows = list(csv.reader(io.StringIO(info.value.path().read_bytes().decode("utf-8-sig"))))
    assert shown and [r[1] for r in rows[1:]] == shown
    card.scroll_into_view_if_needed()
    shot(page, "36-overview-export-en")
    page.close()
    assert console.errors == []
