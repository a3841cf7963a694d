"""The console over plain HTTP: sign-in gate, membership and role checks, role-based navigation,
explorers, HTMX fragments, languages and formats, CSRF on the language switcher, CSP-safe pages."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine

from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.orders.test_orders import seed_orders, seed_utm
from tests.products.test_products import ROWS as PRODUCT_ROWS
from tests.timing import DEADLINE

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def _seed(server: InProcServer) -> None:
    wh = server.state.warehouses.get(server.tenant.id)
    seed_orders(wh)
    with wh.write() as cur:  # the products fixture's own orders and refunds, renamed to keep ids apart
        for sql in PRODUCT_ROWS:
            for old in ("'o1'", "'o2'", "'o3'", "'r1'", "'r2'"):
                sql = sql.replace(old, f"'p{old[1:]}")
            cur.execute(sql)


def test_pages_need_a_session_and_membership(server: InProcServer, engine: Engine) -> None:
    tenancy.create_tenant(engine, "rival", "Rival Shop", "UTC", "USD")
    add_member(engine, "ana@acme.test", "analyst")
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as anonymous:
        gate = anonymous.get("/t/acme/orders?status=paid")
        assert (
            gate.status_code == 303
            and gate.headers["location"] == "/login?next=/t/acme/orders%3Fstatus%3Dpaid"
        )
    with signed_in(server, "ana@acme.test") as (client, _):
        home = client.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/t/acme/"
        for path in ("/t/rival/", "/t/rival/orders", "/t/nope/"):
            missing = client.get(path)
            assert missing.status_code == 404 and "There is no shop" in missing.text
        denied = client.get("/t/acme/settings/audit")
        assert denied.status_code == 403 and "audit:read" in denied.text


def test_navigation_follows_the_role(server: InProcServer, engine: Engine) -> None:
    add_member(engine, "ana@acme.test", "analyst")
    add_member(engine, "olga@acme.test", "owner")
    expected = {
        # Shop settings is every member's (what the shop is, and the settings pages the role may open).
        # Exchange rates: every member reads them (reports depend on them); owners and admins change them.
        "ana@acme.test": {
            "home",
            "live",
            "sessions",
            "orders",
            "products",
            "customers",
            "imports",
            "alerts",
            "settings",
            "fx",
        },
        "olga@acme.test": {
            "settings",
            "home",
            "live",
            "sessions",
            "orders",
            "products",
            "customers",
            "sources",
            "imports",
            "members",
            "keys",
            "audit",
            "alerts",
            "modules",
            "fx",
        },
    }
    for email, entries in expected.items():
        with signed_in(server, email) as (client, _):
            page = client.get("/t/acme/")
            assert page.status_code == 200
            assert set(re.findall(r'data-nav="([a-z]+)"', page.text)) == entries, email
            assert 'aria-current="page"' in page.text and email in page.text
            # The tenant switcher lists the user's shops; sign-out is a CSRF-protected POST.
            assert 'href="/t/acme/"' in page.text and 'action="/logout"' in page.text
            assert 'href="/account/mfa"' in page.text


def test_explorers_render_and_filter_with_htmx_fragments(server: InProcServer, engine: Engine) -> None:
    _seed(server)
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        orders = client.get("/t/acme/orders", params={"coupon": "D11"})
        assert orders.status_code == 200 and "<html" in orders.text
        assert 'data-order="o4"' in orders.text and 'data-order="o7"' not in orders.text
        fragment = client.get("/t/acme/orders", params={"channel": "web"}, headers={"HX-Request": "true"})
        assert "<html" not in fragment.text and 'id="orders-results"' in fragment.text
        assert re.findall(r'data-order="(o\d)"', fragment.text) == ["o7", "o5", "o1"]
        paged = client.get("/t/acme/orders", params={"limit": "2"})
        next_link = re.search(r'href="(/t/acme/orders\?[^"]*cursor=[^"]+)"', paged.text)
        assert next_link is not None
        second_url = next_link.group(1).replace("&amp;", "&")
        second = client.get(second_url)
        # The language switcher brings the user back to this very page (not to the pager's link).
        assert f'name="next" value="{next_link.group(1)}"' in second.text
        first_ids = re.findall(r'data-order="(p?o\d)"', paged.text)
        second_ids = re.findall(r'data-order="(p?o\d)"', second.text)
        assert len(first_ids) == len(second_ids) == 2 and not set(first_ids) & set(second_ids)
        bad = client.get("/t/acme/orders", params={"min_total": "lots"})
        assert bad.status_code == 422 and "min_total: &#39;lots&#39; is not a number" in bad.text
        detail = client.get("/t/acme/orders/o4")
        assert detail.status_code == 200 and "EXT-o4" in detail.text
        products = client.get("/t/acme/products", params={"sort": "units"})
        assert products.status_code == 200 and "面霜 50ml" in products.text
        product = client.get("/t/acme/products/p1")
        assert product.status_code == 200 and "Douyin" in product.text and "GZ" in product.text
        customers = client.get("/t/acme/customers")
        assert customers.status_code == 200
        assert client.get("/t/acme/orders/nope").status_code == 404
        assert client.get("/t/acme/products/nope").status_code == 404


def test_orders_filter_by_utm_fields(server: InProcServer, engine: Engine) -> None:
    """Labelled UTM fields (with the values present as suggestions), filtering, the every-status note,
    a 422 naming the field for a value that is too long, and the fields in Chinese."""
    _seed(server)
    seed_utm(server.state.warehouses.get(server.tenant.id))
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"accept-language": "en"}) as (client, _):
        plain = client.get("/t/acme/orders")
        for name, label in (
            ("utm_source", "UTM source"),
            ("utm_medium", "UTM medium"),
            ("utm_campaign", "UTM campaign"),
        ):
            assert f'<label for="f-{name}">{label}</label>' in plain.text
            assert re.search(rf'<input id="f-{name}" type="text" name="{name}"', plain.text)
        assert '<option value="D11_search">' in plain.text and 'id="orders-utm-note"' not in plain.text
        page = client.get("/t/acme/orders", params={"utm_campaign": "d11_search", "date_from": "2026-11-11"})
        assert page.status_code == 200
        assert re.findall(r'data-order="(o\d)"', page.text) == ["o5", "o3", "o2"]
        assert 'value="d11_search"' in page.text and 'id="orders-utm-note"' in page.text
        none = client.get("/t/acme/orders", params={"utm_source": "(none)"}, headers={"HX-Request": "true"})
        assert re.findall(r'data-order="(o\d)"', none.text) == ["o7", "o6"]
        long = client.get("/t/acme/orders", params={"utm_medium": "m" * 201})
        assert long.status_code == 422 and "utm_medium is longer than 200 characters" in long.text
    with signed_in(server, "ana@acme.test", **{"accept-language": "zh-CN"}) as (client, _):
        zh = client.get("/t/acme/orders", params={"utm_campaign": "d11_search"}).text
        assert ">UTM 来源</label>" in zh and ">UTM 推广活动</label>" in zh and "此处列出所有状态" in zh


def test_chinese_labels_and_yuan_formatting(server: InProcServer, engine: Engine) -> None:
    _seed(server)
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}) as (
        client,
        csrf,
    ):
        zh = client.get("/t/acme/orders/o4").text
        assert '<html lang="zh-CN" data-rise="red">' in zh  # the A-share colours by default
        assert ">订单<" in zh or "订单" in zh
        assert "¥1,200.00" in zh and "CN¥" not in zh
        assert "2026年11月11日 11:00:00" in zh  # 03:00 UTC shown in Asia/Shanghai
        # The switcher's choice beats the browser's preference; it is a CSRF-checked POST.
        refused = client.post("/lang", data={"lang": "en", "next": "/t/acme/orders/o4"})
        assert refused.status_code == 403 and client.cookies.get("eco_lang") is None
        switched = client.post("/lang", data={"lang": "en", "next": "/t/acme/orders/o4", "csrf_token": csrf})
        assert switched.status_code == 303 and switched.headers["location"] == "/t/acme/orders/o4"
        en = client.get("/t/acme/orders/o4").text
        assert (
            '<html lang="en" data-rise="green">' in en
            and "CN¥1,200.00" in en
            and "Nov 11, 2026, 11:00:00" in en
        )
        assert client.post("/lang", data={"lang": "xx", "csrf_token": csrf}).status_code == 422
        offsite = client.post("/lang", data={"lang": "zh_CN", "next": "//evil.example/", "csrf_token": csrf})
        assert offsite.headers["location"] == "/"


def test_settings_pages_for_an_owner(server: InProcServer, engine: Engine) -> None:
    add_member(engine, "olga@acme.test", "owner")
    with signed_in(server, "olga@acme.test") as (client, _):
        for path, marker in [
            ("/t/acme/sources", "data-snippet="),
            ("/t/acme/imports", 'id="import-form"'),
            ("/t/acme/settings/members", "olga@acme.test"),
            ("/t/acme/settings/keys", 'id="key-form"'),
            ("/t/acme/settings/audit", 'id="audit-rows"'),
        ]:
            page = client.get(path)
            assert page.status_code == 200 and marker in page.text, path
            assert not INLINE_SCRIPT.search(page.text), f"inline script on {path} (CSP allows none)"
            assert "unsafe-eval" not in page.headers["content-security-policy"]
        sources = client.get("/t/acme/sources").text
        assert f"{server.url}/v1/track" in sources and "YOUR_WRITE_KEY" in sources
        verify = client.get("/t/acme/settings/audit/verify", headers={"HX-Request": "true"})
        assert 'data-verify="ok"' in verify.text
        filtered = client.get(
            "/t/acme/settings/audit", params={"action": "member.*"}, headers={"HX-Request": "true"}
        )
        assert "member.add" in filtered.text and "<html" not in filtered.text


def test_vendored_front_end_is_served_offline(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        for path, needle in [
            ("/static/vendor/htmx/htmx.min.js", b'version:"2.0.11"'),
            ("/static/vendor/alpine/cdn.min.js", b"Alpine"),
            ("/static/vendor/echarts/echarts.min.js", b"echarts"),
            ("/static/console/console.js", b"alpine:init"),
            ("/static/console/console.css", b".sidebar"),
        ]:
            r = c.get(path)
            assert r.status_code == 200 and needle in r.content, path
        for name in ("htmx", "alpine", "echarts"):
            assert c.get(f"/static/vendor/{name}/LICENSE").status_code == 200


def test_language_switch_before_sign_in(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        login = c.get("/login")
        token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert c.post("/lang", data={"lang": "zh_CN", "next": "/login"}).status_code == 403  # no token
        switched = c.post("/lang", data={"lang": "zh_CN", "next": "/login", "csrf_token": token})
        assert switched.status_code == 303 and switched.headers["location"] == "/login"
        page = c.get("/login").text
        assert "登录 ecomops" in page and '<html lang="zh-CN">' in page
        wrong = c.post(
            "/login", data={"email": "x@y.test", "password": "nope nope nope", "csrf_token": token}
        )
        assert wrong.status_code == 401 and "邮箱" in wrong.text  # the form comes back in Chinese too


def test_sessions_page(server: InProcServer, engine: Engine) -> None:
    """The Sessions page splits imported sessions by a property; both languages; bad days are ignored."""
    with server.state.warehouses.get(server.tenant.id).write() as cur:
        for sid, kind, bought in (("s1", "new", True), ("s2", "new", False), ("s3", "returning", False)):
            cur.execute(
                "INSERT INTO events (message_id, type, event, anonymous_id, session_id, ts, received_at, "
                "properties) VALUES (?, 'track', 'Session Started', ?, ?, "
                "TIMESTAMPTZ '2017-05-02 10:00:00+00', now(), "
                "json_object('visitor_type', ?, 'month', '2017-05'))",
                [f"m-{sid}", sid, sid, kind],
            )
            if bought:
                cur.execute(
                    "INSERT INTO events (message_id, type, event, anonymous_id, session_id, ts, received_at) "
                    "VALUES (?, 'track', 'Session Converted', ?, ?, "
                    "TIMESTAMPTZ '2017-05-02 10:05:00+00', now())",
                    [f"c-{sid}", sid, sid],
                )
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/sessions", params={"breakdown": "visitor_type", "start": "nope"})
        assert page.status_code == 200 and 'id="sessions-table"' in page.text
        rows = re.findall(
            r"<tr><td>(\w+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>", page.text
        )
        assert rows == [("new", "2", "1"), ("returning", "1", "0")]
        assert re.search(r'id="sessions-total-rate">33.33 %<', page.text)
        client.cookies.set("eco_lang", "zh_CN")
        chinese = client.get("/t/acme/sessions")
        assert chinese.status_code == 200 and "全部会话" in chinese.text
