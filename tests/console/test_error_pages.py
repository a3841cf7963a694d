"""People get pages, programs get JSON: unknown console addresses answer an HTML page in the console
(or the plain page outside a shop) in the visitor's language, while the API keeps its JSON errors; and
``/t/{shop}/settings`` is a page."""

from __future__ import annotations

import asyncio
import html
import re

import httpx
from sqlalchemy import Engine

from ecomops.app import create_app
from ecomops.platform.settings import Settings
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in

HTML = {"accept": "text/html,application/xhtml+xml"}


def test_unknown_console_addresses_are_html_pages_in_the_console(
    server: InProcServer, engine: Engine
) -> None:
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **HTML, **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/no-such-page")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "<h1>Page not found</h1>" in page.text
        assert "There is no page at /t/acme/no-such-page." in html.unescape(page.text)
        assert 'aria-label="Main navigation"' in page.text  # inside the console chrome
        chinese = client.get("/t/acme/no-such-page", cookies={"eco_lang": "zh_CN"})
        assert chinese.status_code == 404 and "<h1>页面不存在</h1>" in chinese.text
        # Another shop's unknown page looks like any shop the person is not a member of.
        other = client.get("/t/elsewhere/no-such-page")
        assert other.status_code == 404 and "There is no shop" in html.unescape(other.text)
        assert 'aria-label="Main navigation"' not in other.text
        # Outside a shop: the plain page.
        plain = client.get("/nothing-here")
        assert plain.status_code == 404 and "<h1>Page not found</h1>" in plain.text
        # The API and ingest keep their JSON, whatever the Accept header says.
        for path in ("/api/v1/t/acme/no-such-thing", "/v1/no-such-thing"):
            api = client.get(path)
            assert api.status_code == 404 and api.json()["error"]["code"] == "not_found", path
    # Not signed in: a console address asks for sign-in first (it does not say whether the page exists).
    anonymous = server.client().get("/t/acme/no-such-page", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    # A program asking for JSON still gets JSON on a console address.
    assert server.client().get("/nothing-here").json()["error"]["code"] == "not_found"


def test_a_server_error_is_an_html_page_for_people(settings: Settings) -> None:
    """Sent by Starlette's outermost middleware (no database needed: the failure may be the database)."""
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/t/{slug}/broken", broken)
    app.add_api_route("/api/v1/broken", broken)

    async def call(path: str, **headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get(path, headers={**HTML, **headers})

    page = asyncio.run(call("/t/acme/broken", **{"accept-language": "zh-CN", "x-request-id": "boom-2"}))
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-request-id"] == "boom-2"
    assert "<h1>服务器错误</h1>" in page.text and "boom-2" in page.text
    api = asyncio.run(call("/api/v1/broken"))
    assert api.status_code == 500 and api.json()["error"]["code"] == "internal_error"


def test_settings_page_shows_the_shop_and_the_pages_a_role_may_open(
    server: InProcServer, engine: Engine
) -> None:
    add_member(engine, "owner@acme.test", "owner")
    add_member(engine, "viewer@acme.test", "viewer")
    with signed_in(server, "owner@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/settings")
        assert page.status_code == 200, page.text[:300]
        text = html.unescape(page.text)
        tenant = server.tenant
        for fact, value in (
            ("name", tenant.name),
            ("timezone", tenant.timezone),
            ("currency", tenant.currency),
        ):
            assert f'data-fact="{fact}">{value}<' in text, fact
        links = set(re.findall(r'data-settings="([a-z]+)"', page.text))
        assert links == {"members", "keys", "audit", "modules", "sources", "imports", "fx"}
        assert 'data-nav="settings"' in page.text and 'aria-current="page"' in page.text
    with signed_in(server, "viewer@acme.test", **{"accept-language": "zh-CN"}) as (client, _):
        page = client.get("/t/acme/settings")
        assert page.status_code == 200 and "<h1>店铺设置</h1>" in page.text
        # A viewer may follow imports and read the exchange rates, and opens none of the managers' pages.
        assert set(re.findall(r'data-settings="([a-z]+)"', page.text)) == {"imports", "fx"}
