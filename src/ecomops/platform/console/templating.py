"""The Jinja2 environment of every HTML page (console and sign-in), with gettext and formatting filters.

Translations and formats depend on the request (the visitor's language) and on the tenant (currency,
time zone). Both are read from the template context, which always holds ``request`` and holds
``tenant`` on console pages, so one environment serves every request concurrently without globals
that one request could leak into another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from ecomops.platform.console import i18n, labels
from ecomops.platform.registry import registry

LOCALE_STATE = "ecomops_locale"


def request_locale(request: Request) -> str:
    """The request's language, decided once per request (cookie, then Accept-Language, then en)."""
    cached = getattr(request.state, LOCALE_STATE, None)
    if isinstance(cached, str):
        return cached
    chosen = i18n.choose_locale(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    setattr(request.state, LOCALE_STATE, chosen)
    return chosen


def context_locale(ctx: Context) -> str:
    request = ctx.get("request")
    return request_locale(request) if isinstance(request, Request) else i18n.DEFAULT_LOCALE


def _tenant_attr(ctx: Context, name: str, default: str) -> str:
    tenant = ctx.get("tenant")
    value = getattr(tenant, name, None) if tenant is not None else None
    return str(value) if value else default


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return i18n.gettext(context_locale(ctx), message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(context_locale(ctx)).ngettext(singular, plural, n)


@pass_context
def money_filter(ctx: Context, value: Any, currency: str | None = None) -> str:
    return i18n.money(value, currency or _tenant_attr(ctx, "currency", ""), context_locale(ctx))


@pass_context
def number_filter(ctx: Context, value: Any, digits: int | None = None) -> str:
    return i18n.number(value, context_locale(ctx), digits)


@pass_context
def percent_filter(ctx: Context, value: Any) -> str:
    return i18n.percent(value, context_locale(ctx))


@pass_context
def datetime_filter(ctx: Context, value: datetime | str | None, fmt: str = "medium") -> str:
    return i18n.local_datetime(value, _tenant_attr(ctx, "timezone", "UTC"), context_locale(ctx), fmt)


@pass_context
def date_filter(ctx: Context, value: date | datetime | None, fmt: str = "medium") -> str:
    return i18n.local_date(value, _tenant_attr(ctx, "timezone", "UTC"), context_locale(ctx), fmt)


#: Roles as people read them; ``platform.roles.ROLES`` are the API's identifiers (a test checks every role
#: has a label, so a new role cannot reach the console untranslated).
ROLE_LABELS = {
    "owner": i18n.N_("Owner"),
    "admin": i18n.N_("Admin"),
    "analyst": i18n.N_("Analyst"),
    "marketer": i18n.N_("Marketer"),
    "operator": i18n.N_("Operator"),
    "viewer": i18n.N_("Viewer"),
}


@pass_context
def role_filter(ctx: Context, role: str) -> str:
    label = ROLE_LABELS.get(role)
    return i18n.gettext(context_locale(ctx), label) if label else role


@pass_context
def channel_filter(ctx: Context, value: str | None) -> str:
    return labels.channel(context_locale(ctx), value)


@pass_context
def status_filter(ctx: Context, value: str | None) -> str:
    return labels.status(context_locale(ctx), value)


@pass_context
def device_filter(ctx: Context, value: str | None) -> str:
    return labels.device(context_locale(ctx), value)


@pass_context
def dimension_filter(ctx: Context, value: str | None) -> str:
    return labels.dimension(context_locale(ctx), value)


@pass_context
def import_format_filter(ctx: Context, value: str | None) -> str:
    return labels.import_format(context_locale(ctx), value)


@pass_context
def term_filter(ctx: Context, value: str | None) -> str:
    return labels.term(context_locale(ctx), value)


def _field(item: Any, name: str) -> str | None:
    value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
    return str(value) if value else None


@pass_context
def product_name_filter(ctx: Context, item: Any) -> str:
    """``item`` is any row with ``name`` and optionally ``name_en``/``name_zh`` (object or dict)."""
    return labels.product_name(
        context_locale(ctx), _field(item, "name"), _field(item, "name_en"), _field(item, "name_zh")
    )


@pass_context
def localized_filter(ctx: Context, value: str | None, en: str | None = None, zh: str | None = None) -> str:
    """A data value with its names in other languages, in the reader's (``labels.product_name``)."""
    return labels.product_name(context_locale(ctx), value, en, zh)


def _rating(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


class ConsoleLoader(FileSystemLoader):
    """The platform's templates, then every installed module's folder (``Module.templates``).

    The module folders are read on first use, not at import: this file is imported while the
    registry is still loading the modules whose pages use it.
    """

    def __init__(self) -> None:
        super().__init__(str(i18n.TEMPLATE_DIR))
        self._complete = False

    def _search_modules(self) -> None:
        if not self._complete:
            self.searchpath = [str(i18n.TEMPLATE_DIR), *(str(d) for d in registry().template_dirs)]
            self._complete = True

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        self._search_modules()
        return super().get_source(environment, template)

    def list_templates(self) -> list[str]:
        self._search_modules()
        return super().list_templates()


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=ConsoleLoader(),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(("html", "xml")),
    )
    templates = Jinja2Templates(env=env)
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["locale_names"] = i18n.LOCALE_NAMES
    env.globals["locale_of"] = request_locale
    env.globals["channel_labels"] = lambda request: labels.channel_labels(request_locale(request))
    env.globals["rise_colour"] = lambda request, session: labels.rise_colour(
        request_locale(request), getattr(session, "rise_colour", None)
    )
    env.filters.update(
        money=money_filter,
        number=number_filter,
        percent=percent_filter,
        datetime=datetime_filter,
        date=date_filter,
        rating=_rating,
        role=role_filter,
        channel=channel_filter,
        status=status_filter,
        term=term_filter,
        device=device_filter,
        dimension=dimension_filter,
        import_format=import_format_filter,
        product_name=product_name_filter,
        localized=localized_filter,
    )
    env.policies["ext.i18n.trimmed"] = True
    return templates


templates = make_templates()


#: Messages the sign-in pages pass in as variables (``security.pages``), marked for extraction.
PASSED_IN_MESSAGES = (
    i18n.N_("Confirm it's you"),
    i18n.N_("Two-factor authentication"),
    i18n.N_("This action needs a fresh code (valid for 10 minutes)."),
)
