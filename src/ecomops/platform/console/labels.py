"""What people read for the identifiers and data vocabulary the console shows, in their language.

The API and the warehouse keep identifiers (``wechat_mini``, ``partially_refunded``) and the data's own
words (a city stored as ``Guangzhou``); only pages translate them, through the gettext catalogues like
every other string, so a translator sees them beside the rest. Unknown values pass through unchanged:
a channel an import invented, a city the tables below do not know, a category of an imported shop.

Data vocabulary (categories, provinces, cities, warehouse regions) is translated only when the value is
one of the terms listed here: a city named like a button ("Orders") must not turn into that button's
translation. The terms are the demo shop's (``simulate.categories``, ``simulate.geo``); a test checks
that their Chinese translations are the simulator's own Chinese names.
"""

from __future__ import annotations

from ecomops.platform.console import i18n
from ecomops.platform.console.i18n import N_

#: Sales channels as stored (``tenancy.service.CHANNELS`` plus imports' ``shopify``); a test checks that
#: every channel a source can be created for has a label.
CHANNEL_LABELS = {
    "web": N_("Own site"),
    "wechat_mini": N_("WeChat mini program"),
    "douyin": N_("Douyin"),
    "tmall": N_("Tmall"),
    "jd": N_("JD.com"),
    "shopify": N_("Shopify"),
    "app": N_("Mobile app"),
    "pos": N_("Store (POS)"),
    "other": N_("Other"),
    #: What breakdowns call orders without a channel.
    "(none)": N_("No channel"),
}

#: Order and import-job statuses as stored.
STATUS_LABELS = {
    "paid": N_("Paid"),
    "completed": N_("Completed"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "refunded": N_("Refunded"),
    "partially_refunded": N_("Partially refunded"),
    "cancelled": N_("Cancelled"),
    "pending": N_("Pending payment"),
    "queued": N_("Queued"),
    "running": N_("Running"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "active": N_("Active"),
    "archived": N_("Archived"),
}

#: Devices as the events record them.
DEVICE_LABELS = {
    "mobile": N_("Mobile"),
    "desktop": N_("Desktop"),
    "tablet": N_("Tablet"),
}

#: What a figure can be broken down or filtered by (metrics' breakdowns, alert scopes).
DIMENSION_LABELS = {
    "channel": N_("Channel"),
    "campaign": N_("Campaign"),
    "source": N_("Traffic source"),
    "category": N_("Category"),
    "product": N_("Product"),
    "country": N_("Country"),
    "region": N_("Region"),
    "device": N_("Device"),
}

#: Bulk-import formats (``imports.presets``).
IMPORT_FORMAT_LABELS = {
    "online-retail-ii": N_("Online Retail II (UCI)"),
    "olist": N_("Olist (Brazilian e-commerce)"),
    "shopify": N_("Shopify orders export"),
    "generic": N_("Generic CSV with a mapping file"),
    "uci-online-shoppers": N_("Online shoppers sessions (UCI)"),
    "sessions": N_("Session export with a mapping file"),
}

#: The demo shop's categories, provinces, cities and warehouse regions, as the data spells them.
DATA_TERMS = frozenset(
    {
        # categories
        N_("Beauty & Skincare"),
        N_("Apparel"),
        N_("Shoes"),
        N_("Mother & Baby"),
        N_("Food & Beverage"),
        N_("Home & Living"),
        N_("Digital & Electronics"),
        N_("Personal Care"),
        N_("Home Appliances"),
        N_("Bags & Luggage"),
        N_("Pet Supplies"),
        N_("Sports & Outdoors"),
        # provinces and municipalities
        N_("Guangdong"),
        N_("Zhejiang"),
        N_("Jiangsu"),
        N_("Shanghai"),
        N_("Beijing"),
        N_("Shandong"),
        N_("Fujian"),
        N_("Sichuan"),
        N_("Hubei"),
        N_("Henan"),
        N_("Hunan"),
        N_("Hebei"),
        N_("Anhui"),
        N_("Shaanxi"),
        N_("Chongqing"),
        N_("Tianjin"),
        N_("Liaoning"),
        N_("Jiangxi"),
        N_("Guangxi"),
        N_("Yunnan"),
        N_("Heilongjiang"),
        N_("Shanxi"),
        N_("Guizhou"),
        # cities (municipalities are listed above)
        N_("Guangzhou"),
        N_("Shenzhen"),
        N_("Dongguan"),
        N_("Foshan"),
        N_("Hangzhou"),
        N_("Ningbo"),
        N_("Wenzhou"),
        N_("Nanjing"),
        N_("Suzhou"),
        N_("Wuxi"),
        N_("Jinan"),
        N_("Qingdao"),
        N_("Yantai"),
        N_("Xiamen"),
        N_("Fuzhou"),
        N_("Quanzhou"),
        N_("Chengdu"),
        N_("Mianyang"),
        N_("Wuhan"),
        N_("Yichang"),
        N_("Zhengzhou"),
        N_("Luoyang"),
        N_("Changsha"),
        N_("Zhuzhou"),
        N_("Shijiazhuang"),
        N_("Baoding"),
        N_("Hefei"),
        N_("Wuhu"),
        N_("Xi'an"),
        N_("Shenyang"),
        N_("Dalian"),
        N_("Nanchang"),
        N_("Nanning"),
        N_("Guilin"),
        N_("Kunming"),
        N_("Harbin"),
        N_("Taiyuan"),
        N_("Guiyang"),
        # warehouse regions
        N_("East China"),
        N_("South China"),
        N_("North China"),
        N_("Southwest China"),
        # countries the demo and the bundled datasets use
        N_("China"),
        N_("United Kingdom"),
        N_("Brazil"),
    }
)


def _label(labels: dict[str, str], locale: str, value: str | None) -> str:
    """The value's label in ``locale``; an unknown value as stored; nothing as a dash."""
    if not value:
        return "–"
    label = labels.get(value)
    return i18n.gettext(locale, label) if label else value


def channel(locale: str, value: str | None) -> str:
    return _label(CHANNEL_LABELS, locale, value)


def status(locale: str, value: str | None) -> str:
    return _label(STATUS_LABELS, locale, value)


def device(locale: str, value: str | None) -> str:
    return _label(DEVICE_LABELS, locale, value)


def dimension(locale: str, value: str | None) -> str:
    return _label(DIMENSION_LABELS, locale, value)


def import_format(locale: str, value: str | None) -> str:
    return _label(IMPORT_FORMAT_LABELS, locale, value)


def term(locale: str, value: str | None) -> str:
    """A category, province, city or region: translated when it is a known term, else as stored."""
    if not value:
        return "–"
    return i18n.gettext(locale, value) if value in DATA_TERMS else value


def product_name(
    locale: str, name: str | None, name_en: str | None = None, name_zh: str | None = None
) -> str:
    """The product's name in the reader's language when the data has one (the simulator stores both;
    an import with one name shows that name in both languages)."""
    localized = name_zh if locale == "zh_CN" else name_en
    return localized or name or "–"


def channel_labels(locale: str) -> dict[str, str]:
    """Every known channel's label, for scripts that draw channels from JSON (the live page)."""
    return {key: i18n.gettext(locale, label) for key, label in CHANNEL_LABELS.items()}


#: The colour a rise takes on screen; a fall takes the other one.
RISE_COLOURS = ("red", "green")


def rise_colour(locale: str, preference: str | None) -> str:
    """A person's choice, else the language's convention: red in zh-CN (A-share), green in English."""
    if preference in RISE_COLOURS:
        return str(preference)
    return "red" if locale == "zh_CN" else "green"
