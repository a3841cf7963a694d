"""Every console page, in both languages, in a real browser: nothing left untranslated.

One server with a seeded demo shop; the owner (MFA switched off for the shop, so a password signs in)
opens every page of the sidebar plus a detail page of each kind, once in Chinese and once in English.
The visible text of each page is read in the browser (text nodes and the options of selects):

- zh-CN: no text is an English catalogue message whose translation differs (a string that missed the
  catalogue at render time), and no plain English word is left outside an allow-list of brands, units and
  codes (tokens with digits, ``_``, ``.``, ``@`` or ``/`` are identifiers, all-capitals words acronyms);
- English: no Chinese text where an English name exists (product names, categories, cities, channels).

Data the shop typed or imported in its own language (its name, people's names, review texts) is marked
``translate="no"`` in the templates (the HTML attribute for content that is not to be translated) and
skipped; so is the language switcher, which names each language in itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import uvicorn
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ecomops.app import create_app
from ecomops.platform.console import i18n
from ecomops.platform.settings import get_settings
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import upgrade
from ecomops.security import accounts
from ecomops.security.auth import set_mfa_policy
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from ecomops.tenancy import service as tenancy
from tests.conftest import free_port
from tests.console.conftest import ARGS, PASSWORD
from tests.console.test_browser import CHROMIUM
from tests.timing import DEADLINE, wait_until

pytestmark = pytest.mark.xdist_group("console-untranslated-browser")

OWNER = "owner@i18n.test"
SHOP_NAME = "Lumière 露米尔"

#: English words allowed on Chinese pages: product and brand names, protocols, units.
ALLOWED_WORDS = frozenset(
    {
        "ecomops",  # the product
        "Lumière",  # the shop's own name
        "English",  # the language switcher names English in English
        "Shopify",
        "App",
        "Python",
        "JavaScript",
        "curl",
        "Webhook",
        "webhook",
        "Excel",
        "Parquet",
        "Online",
        "Retail",  # the "Online Retail II" import preset, a dataset's name
        "Olist",
        "Segment",  # the event API it is compatible with
        "Pro",  # a product variant in the demo's Chinese names (微风 电水壶 Pro版)
    }
)
#: Identifiers, codes and numbers: a token with a digit, ``_``, ``.``, ``@``, ``/``, ``:`` or ``-`` in it.
CODE = re.compile(r"[\d_.@/:\-]")
WORD = re.compile(r"[A-Za-zÀ-ɏ'][A-Za-zÀ-ɏ']+")
#: Code quoted in a message (`ecomops user create`).
BACKTICKS = re.compile(r"`[^`]*`")
CJK = re.compile(r"[\u4e00-\u9fff]")

#: Visible text nodes (and select options), each with whether it sits in content marked not to translate.
TEXTS_JS = """() => {
  const SKIP = '[translate="no"], [lang]:not(html), code, pre, kbd, samp, .mono';
  const out = [];
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest("script,style,template,noscript") || !visible(el)) continue;
    out.push([text, !!el.closest(SKIP)]);
  }
  document.querySelectorAll("select option").forEach(o => {
    out.push([o.textContent.trim(), !!o.closest(SKIP)]);
  });
  return out;
}"""


@dataclass
class Shop:
    url: str
    browser: Browser
    #: English catalogue messages whose Chinese translation differs (what must never show in zh-CN).
    english: frozenset[str]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    data_dir = tmp_path_factory.mktemp("untranslated") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMOPS_DATA_DIR", str(data_dir))
        mp.delenv("ECOMOPS_DATABASE_URL", raising=False)
        mp.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")
        get_settings.cache_clear()
        settings = get_settings()
        engine = make_engine(settings.resolved_database_url)
        upgrade(engine)
        tenant = tenancy.create_tenant(engine, "demo", SHOP_NAME, "Asia/Shanghai", "CNY")
        accounts.create_user(engine, OWNER, PASSWORD)
        accounts.add_member(engine, "demo", OWNER, "owner")
        set_mfa_policy(engine, tenant.id, False)
        app = create_app(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started, "the console server to start")
        seed_demo(
            engine,
            app.state.ecomops.warehouses.get(tenant.id),
            tenant,
            SeedParams(days=14, customers=500, seed=3, end_date=date(2026, 11, 30)),
            data_dir / "manifest.json",
        )
        with i18n.catalogue_path("zh_CN").open("rb") as fh:
            catalogue = read_po(fh, locale="zh_CN")
        english = frozenset(m.id for m in catalogue if m.id and m.string and m.string != m.id)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                yield Shop(f"http://127.0.0.1:{port}", browser, english)
            finally:
                browser.close()
                server.should_exit = True
                thread.join(30)
                engine.dispose()
                get_settings.cache_clear()


def _signed_in(shop: Shop, lang: str) -> Page:
    ctx = shop.browser.new_context(viewport={"width": 1280, "height": 800}, base_url=shop.url)
    ctx.set_default_timeout(DEADLINE * 1000)
    ctx.add_cookies([{"name": i18n.COOKIE, "value": lang, "url": shop.url}])
    page = ctx.new_page()
    page.goto("/login?next=/t/demo/")
    page.locator("#email").fill(OWNER)
    page.locator("#password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/t/demo/$"))
    return page


def _signed_out_texts(shop: Shop, lang: str) -> list[tuple[str, bool]]:
    ctx = shop.browser.new_context(viewport={"width": 1280, "height": 800}, base_url=shop.url)
    ctx.add_cookies([{"name": i18n.COOKIE, "value": lang, "url": shop.url}])
    try:
        return _texts(ctx.new_page(), "/login")
    finally:
        ctx.close()


def _pages(page: Page) -> list[str]:
    """Every page of the sidebar, a detail page of each kind, and big-screen mode."""
    links = page.locator("#sidebar a[data-nav]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    paths = list(dict.fromkeys(links))
    for listing, selector in (
        ("/t/demo/orders", "#orders-results tbody a[data-order]"),
        ("/t/demo/products", "#products-results tbody tr a"),
        ("/t/demo/customers", "main tbody tr a"),
    ):
        page.goto(listing)
        paths.append(page.locator(selector).first.get_attribute("href") or "")
    # The shop's settings, big-screen mode, the two-factor page and an address that is no page (404).
    return [*paths, "/t/demo/settings", "/t/demo/live?screen=big", "/account/mfa", "/t/demo/no-such-page"]


def _texts(page: Page, path: str) -> list[tuple[str, bool]]:
    """The page's visible text once its scripts drew it (the live page keeps a stream open)."""
    page.goto(path)
    if "/live" in path:
        expect(page.locator("body[data-live-as-of]")).to_have_count(1)
    else:
        page.wait_for_load_state("networkidle")
    return [(str(t), bool(skip)) for t, skip in page.evaluate(TEXTS_JS)]


def untranslated_zh(texts: list[tuple[str, bool]], english: frozenset[str]) -> set[str]:
    found = set()
    for text, skip in texts:
        if skip:
            continue
        if text in english:
            found.add(text)
            continue
        for token in BACKTICKS.sub(" ", text).split():
            if CODE.search(token):
                continue
            for word in WORD.findall(token):
                if word not in ALLOWED_WORDS and not word.isupper():
                    found.add(f"{word!r} in {text[:60]!r}")
    return found


def chinese_in_en(texts: list[tuple[str, bool]]) -> set[str]:
    return {text[:60] for text, skip in texts if not skip and CJK.search(text)}


def test_every_page_in_chinese_is_translated(shop: Shop) -> None:
    page = _signed_in(shop, "zh_CN")
    paths = _pages(page)
    assert len(paths) >= 14, paths
    problems = {path: untranslated_zh(_texts(page, path), shop.english) for path in paths}
    problems["/login"] = untranslated_zh(_signed_out_texts(shop, "zh_CN"), shop.english)
    bad = [f"{path}: {sorted(found)}" for path, found in problems.items() if found]
    assert not bad, "\n".join(bad)


def test_every_page_in_english_shows_english_names(shop: Shop) -> None:
    page = _signed_in(shop, "en")
    paths = _pages(page)
    problems = {path: chinese_in_en(_texts(page, path)) for path in paths}
    problems["/login"] = chinese_in_en(_signed_out_texts(shop, "en"))
    bad = [f"{path}: {sorted(found)}" for path, found in problems.items() if found]
    assert not bad, "\n".join(bad)


def test_the_check_catches_an_untranslated_string(shop: Shop) -> None:
    """The detector itself: a catalogue message or a stray English word on a Chinese page is reported."""
    texts = [("Orders", False), ("订单 Refund rate", False), ("moments_feed_ads", False), ("CNY", False)]
    assert untranslated_zh(texts, shop.english) == {
        "Orders",
        "'Refund' in '订单 Refund rate'",
        "'rate' in '订单 Refund rate'",
    }
    assert chinese_in_en([("家居 电水壶", False), ("简体中文", True)]) == {"家居 电水壶"}
