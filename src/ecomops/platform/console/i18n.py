"""Languages of the console: gettext catalogues read at start-up, locale choice, number/date formatting.

The catalogues are the ``.po`` files in ``web/locale/<locale>/LC_MESSAGES/messages.po`` (in the repo,
reviewed like code). They are read with Babel's PO reader and compiled in memory, so a fresh clone
needs no ``.mo`` build step. The language is the ``eco_lang`` cookie set by the language switcher,
else the best match of the browser's ``Accept-Language``, else English.

Money is ``Decimal`` throughout and formatted by ``babel.numbers.format_currency`` in the tenant's
currency (CNY in zh_CN prints as ``¥1,234.50``); times are stored in UTC and shown in the tenant's
time zone with ``babel.dates``.

``python -m ecomops.platform.console.i18n`` extracts the messages of the console's templates and Python
modules and merges them into both catalogues (new entries get an empty translation, which the
catalogue test refuses for zh_CN until someone translates them).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

from ecomops import __version__
from ecomops.platform.registry import registry

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
LOCALE_DIR = WEB_DIR / "locale"
TEMPLATE_DIR = WEB_DIR / "templates"
#: The ``ecomops`` package: every module's Python marks its console strings with ``N_``/``_``.
PACKAGE_DIR = Path(__file__).resolve().parents[2]
LOCALES = ("en", "zh_CN")
DEFAULT_LOCALE = "en"
#: Shown in the language switcher in their own language.
LOCALE_NAMES = {"en": "English", "zh_CN": "简体中文"}
COOKIE = "eco_lang"
DOMAIN = "messages"
#: The platform's own template folder (the console chrome); modules add theirs (``Module.templates``).
TEMPLATE_FOLDERS = ("console",)


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(locale: str) -> Catalog:
    with catalogue_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """Compiled in memory from the ``.po`` file, once per process and locale."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    catalogue = read_catalogue(locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (nav labels, translated at render)."""
    return message


def _normalise(tag: str) -> str | None:
    """Map a browser tag (``zh-CN``, ``zh-Hans``, ``zh``, ``en-GB``) onto one of our locales."""
    try:
        parsed = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if parsed.language == "zh":
        # Traditional-script tags would still read Simplified better than English for most users.
        return "zh_CN"
    if parsed.language == "en":
        return "en"
    return None


def parse_accept_language(header: str | None) -> str | None:
    """The supported locale the browser prefers most (q-values honoured), or None."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    for _, _, tag in sorted(weighted):
        found = _normalise(tag)
        if found:
            return found
    return None


def choose_locale(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LOCALES:
        return str(cookie)
    return parse_accept_language(accept_language) or DEFAULT_LOCALE


# ---- formatting (tenant currency and time zone) ------------------------------------------------------


def money(value: Decimal | int | float | str | None, currency: str | None, locale: str) -> str:
    if value is None:
        return "–"
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    if not currency:
        return format_decimal(amount, format="#,##0.00", locale=locale)
    return format_currency(amount, currency, locale=locale)


def number(value: Decimal | int | float | None, locale: str, digits: int | None = None) -> str:
    if value is None:
        return "–"
    if digits is not None:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=locale)
    return format_decimal(value, locale=locale)


def percent(value: Decimal | float | str | None, locale: str) -> str:
    if value is None:
        return "–"
    return format_percent(Decimal(str(value)), format="#,##0.0%", locale=locale)


def local_datetime(value: datetime | str | None, timezone: str, locale: str, fmt: str = "medium") -> str:
    """``value`` (UTC or aware) in the tenant's zone, e.g. ``2026年11月11日 08:05:00`` in zh_CN."""
    if value is None:
        return "–"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return format_datetime(at, format=fmt, tzinfo=ZoneInfo(timezone), locale=locale)


def local_date(value: date | datetime | None, timezone: str, locale: str, fmt: str = "medium") -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(timezone)).date()
    return format_date(value, format=fmt, locale=locale)


# ---- extraction (development tool and the catalogue test) ------------------------------------------

JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "trimmed": "true"}


def _relative(folder: Path) -> str:
    try:
        return str(folder.relative_to(PACKAGE_DIR))
    except ValueError:
        return str(folder)


def extract_messages() -> dict[str, list[str]]:
    """msgid → places it is used, from every template folder and the Python of every built-in module.

    Built-in modules share this catalogue; a third-party module's strings are extracted only if its
    templates are installed (its Python lives outside the package).
    """
    found: dict[str, list[str]] = {}

    def add(items: Iterable[tuple[str, int, Any, list[str], Any]], prefix: str) -> None:
        for filename, lineno, message, _comments, _context in items:
            if isinstance(message, tuple):  # plural forms: the singular is the key
                message = message[0]
            found.setdefault(message, []).append(f"{prefix}/{filename}:{lineno}")

    for name in TEMPLATE_FOLDERS:
        add(
            extract_from_dir(
                TEMPLATE_DIR / name,
                method_map=[("**.html", "jinja2")],
                options_map={"**.html": JINJA_OPTIONS},
            ),
            f"templates/{name}",
        )
    for folder in registry().template_dirs:
        add(
            extract_from_dir(
                folder, method_map=[("**.html", "jinja2")], options_map={"**.html": JINJA_OPTIONS}
            ),
            _relative(folder),
        )
    add(
        extract_from_dir(
            PACKAGE_DIR,
            method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None, "gettext": (2,)},
        ),
        "ecomops",
    )
    return found


def update_catalogues() -> dict[str, int]:
    """Add new messages to both catalogues and drop ones no longer used; returns the count per locale."""
    messages = extract_messages()
    counts = {}
    for locale in LOCALES:
        old = read_catalogue(locale)
        new = Catalog(
            locale=locale,
            domain=DOMAIN,
            project="ecomops",
            version=__version__,
            copyright_holder="ecomops contributors",
            header_comment=f"# ecomops console messages ({LOCALE_NAMES[locale]}).\n"
            "# Update with `python -m ecomops.platform.console.i18n`; translate every empty msgstr.",
            creation_date=old.creation_date,
            revision_date=old.revision_date,
            last_translator="ecomops contributors",
            language_team=LOCALE_NAMES[locale],
            fuzzy=False,
            charset="utf-8",
        )
        for msgid in sorted(messages):
            existing = old.get(msgid)
            new.add(msgid, existing.string if existing else "", locations=[])
        with catalogue_path(locale).open("wb") as fh:
            write_po(fh, new, omit_header=False, sort_output=True, width=110, include_lineno=False)
        counts[locale] = len(new)
    translations.cache_clear()
    return counts


if __name__ == "__main__":  # pragma: no cover - development tool
    for name, count in update_catalogues().items():
        print(f"{catalogue_path(name)}: {count} messages")
