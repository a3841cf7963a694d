"""Display labels (channels, statuses, data terms, product names) and the colours of change.

The labels are checked against what can be stored (every channel a source can be created for) and
against the simulator's own Chinese names (provinces, cities, categories), so the two cannot drift; the
preference is set through the page's form, the API and the CLI, each audited and shown in the page.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from ecomops.analytics import reasons
from ecomops.cli import app
from ecomops.platform.console import i18n, labels
from ecomops.platform.store.models import AuditRecord
from ecomops.platform.store.scoping import system_session
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.geo import PROVINCES
from ecomops.simulate.traffic import DEVICES
from ecomops.tenancy.service import CHANNELS
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in


def test_every_channel_and_device_has_a_chinese_label() -> None:
    for channel in CHANNELS:
        assert channel in labels.CHANNEL_LABELS, channel
        assert labels.channel("zh_CN", channel) != labels.CHANNEL_LABELS[channel] or channel == "shopify"
    assert [labels.channel("zh_CN", c) for c in ("web", "wechat_mini", "douyin", "tmall", "jd")] == [
        "自营网站",
        "微信小程序",
        "抖音",
        "天猫",
        "京东",
    ]
    assert labels.channel("en", "wechat_mini") == "WeChat mini program"
    assert labels.channel("zh_CN", "made_up_channel") == "made_up_channel"  # unknown: as stored
    assert labels.channel("zh_CN", None) == "–"
    assert {labels.device("zh_CN", d) for d in DEVICES} == {"手机", "电脑", "平板"}
    assert labels.status("en", "partially_refunded") == "Partially refunded"
    assert labels.status("zh_CN", "partially_refunded") == "部分退款"


def test_data_terms_are_the_simulators_chinese_names() -> None:
    expected = {c.name_en: c.name_zh for c in CATEGORIES}
    for province_en, province_zh, _weight, _warehouse, cities in PROVINCES:
        expected[province_en] = province_zh
        expected.update({city_en: city_zh for city_en, city_zh, _w in cities})
    assert {term: labels.term("zh_CN", term) for term in expected} == expected
    assert all(labels.term("en", term) == term for term in expected)
    # Only listed terms are translated: data that happens to spell a button's label keeps its name.
    assert i18n.gettext("zh_CN", "Orders") != "Orders"
    assert labels.term("zh_CN", "Orders") == "Orders"


def test_product_names_follow_the_language() -> None:
    assert labels.product_name("en", "伏特 耳机 黑色", "Voltix Earbuds Black") == "Voltix Earbuds Black"
    assert labels.product_name("zh_CN", "伏特 耳机 黑色", "Voltix Earbuds Black") == "伏特 耳机 黑色"
    # One name (an import): the same in both languages.
    assert labels.product_name("en", "WHITE HANGING HEART") == "WHITE HANGING HEART"
    assert labels.product_name("zh_CN", "Kettle", "Kettle", "电水壶") == "电水壶"


def test_rise_colour_defaults_to_the_language() -> None:
    assert labels.rise_colour("zh_CN", None) == "red"
    assert labels.rise_colour("en", None) == "green"
    assert labels.rise_colour("zh_CN", "green") == "green"
    assert labels.rise_colour("en", "red") == "red"


def _rise(client: object, lang: str) -> str:
    page = client.get("/t/acme/settings", cookies={i18n.COOKIE: lang})  # type: ignore[attr-defined]
    assert page.status_code == 200, page.text
    found = re.search(r'<html lang="[^"]+" data-rise="(\w+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def _preference_records(engine: Engine) -> list[tuple[str, dict[str, object]]]:
    with system_session(engine, "the test reads every shop's preference records") as s:
        rows = s.execute(
            select(AuditRecord.actor, AuditRecord.details)
            .where(AuditRecord.action == "user.preferences_set")
            .order_by(AuditRecord.seq)
        ).all()
    return [(actor, details) for actor, details in rows]


def test_the_colour_preference_from_the_page_the_api_and_the_cli(
    server: InProcServer, engine: Engine
) -> None:
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, csrf):
        assert (_rise(client, "zh_CN"), _rise(client, "en")) == ("red", "green")
        # The settings page's form: green up, in Chinese too.
        saved = client.post(
            "/account/preferences",
            data={"rise_colour": "green", "csrf_token": csrf, "next": "/t/acme/settings"},
        )
        assert saved.status_code == 303 and saved.headers["location"] == "/t/acme/settings"
        assert (_rise(client, "zh_CN"), _rise(client, "en")) == ("green", "green")
        assert 'option value="green" selected' in client.get("/t/acme/settings").text
        # Without the CSRF token nothing changes.
        refused = client.post("/account/preferences", data={"rise_colour": "red", "next": "/"})
        assert refused.status_code == 403
        assert _rise(client, "en") == "green"
        # The API: red, then back to the language's default; a bad value is a 422 naming the field.
        headers = {"x-csrf-token": csrf}
        put = client.put("/auth/me/preferences", json={"rise_colour": "red"}, headers=headers)
        assert put.status_code == 200 and put.json() == {"rise_colour": "red"}
        assert client.get("/auth/me").json()["rise_colour"] == "red"
        assert _rise(client, "en") == "red"
        bad = client.put("/auth/me/preferences", json={"rise_colour": "blue"}, headers=headers)
        assert bad.status_code == 422 and "rise_colour" in bad.text
        client.put("/auth/me/preferences", json={"rise_colour": None}, headers=headers)
        assert (_rise(client, "zh_CN"), _rise(client, "en")) == ("red", "green")
    cli = CliRunner().invoke(app, ["user", "preferences", "ana@acme.test", "--rise-colour", "red"])
    assert cli.exit_code == 0, cli.output
    with signed_in(server, "ana@acme.test") as (client, _csrf):
        assert _rise(client, "en") == "red"
    assert (
        CliRunner().invoke(app, ["user", "preferences", "ana@acme.test", "--rise-colour", "x"]).exit_code == 2
    )
    records = _preference_records(engine)
    assert [r[0] for r in records][:3] == ["user:ana@acme.test"] * 3
    assert len(records) == 4 and all(r[1] == {"email": "ana@acme.test"} for r in records)


def test_engine_reasons_are_said_in_the_readers_language() -> None:
    """The API's English reasons, recognised from their templates and rendered with their parameters."""
    spend = reasons.NO_SPEND_IN.format(currency="CNY")
    assert reasons.explain("zh_CN", spend) == "本店铺没有以 CNY 计价的广告花费。"
    assert reasons.explain("en", spend) == "This shop has no ad spend in CNY."
    per = reasons.NOT_PER_VISITS.format(dimension="campaign")
    assert reasons.explain("zh_CN", per) == "访客未按“推广活动”记录。"
    assert reasons.explain("zh_CN", reasons.NO_VISIT_EVENTS).startswith("本店铺没有页面或屏幕浏览事件")
    assert reasons.explain("zh_CN", "something else entirely") == "something else entirely"
    for template in reasons.MESSAGES:  # every template has a Chinese message
        filled = template.format(dimension="channel", event="Product Added", currency="GBP")
        explained = reasons.explain("zh_CN", filled)
        assert explained != filled and re.search("[\u4e00-\u9fff]", explained or ""), template
