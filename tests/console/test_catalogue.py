"""Every string the console shows has a Chinese translation, and the catalogues load without a build step."""

from __future__ import annotations

from ecomops.platform.console import i18n
from ecomops.platform.console.templating import ROLE_LABELS
from ecomops.platform.roles import ROLES


def test_every_message_has_a_zh_cn_translation() -> None:
    messages = i18n.extract_messages()
    assert len(messages) > 150  # the extractor really found the templates
    catalogue = i18n.read_catalogue("zh_CN")
    missing = {
        m: where for m, where in messages.items() if not (catalogue.get(m) and catalogue.get(m).string)
    }
    assert not missing, (
        f"untranslated (run python -m ecomops.platform.console.i18n, then translate): {missing}"
    )
    english = i18n.read_catalogue("en")
    assert not [m for m in messages if english.get(m) is None], "en catalogue is stale"


def test_placeholders_survive_translation() -> None:
    catalogue = i18n.read_catalogue("zh_CN")
    import re

    for message in catalogue:
        if message.id:
            assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(
                re.findall(r"%\(\w+\)s", message.string)
            ), message.id


def test_locale_choice_and_formats() -> None:
    assert i18n.choose_locale(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.choose_locale(None, "en-GB,en;q=0.9") == "en"
    assert i18n.choose_locale(None, "fr-FR, zh-TW;q=0.5") == "zh_CN"
    assert i18n.choose_locale(None, "de, fr;q=0.5") == "en"
    assert i18n.choose_locale("en", "zh-CN") == "en"
    assert i18n.choose_locale("xx", None) == "en"
    assert i18n.choose_locale(None, "zh;q=0, en;q=0.1") == "en"
    assert i18n.gettext("zh_CN", "Orders") == "订单"
    from decimal import Decimal

    assert i18n.money(Decimal("1234.5"), "CNY", "zh_CN") == "¥1,234.50"
    assert i18n.money(Decimal("1234.5"), "USD", "en") == "$1,234.50"
    assert i18n.percent("0.6667", "zh_CN") == "66.7%"


def test_every_role_has_a_label_in_both_languages() -> None:
    """Roles are identifiers in the API (``owner``…) and labels in the console, translated like any string."""
    assert set(ROLE_LABELS) == set(ROLES)
    for role, label in ROLE_LABELS.items():
        assert label != role
        assert i18n.gettext("zh_CN", label) != label, f"{role} has no zh-CN label"
