"""Error pages for people: a browser that asks for a console address gets HTML, not the API's JSON.

The API keeps its one JSON error shape; a request is answered with a page instead only when it is a
``GET``/``HEAD`` that accepts ``text/html`` and is not for the API, ingest, static files or probes. Under
``/t/{shop}/`` a signed-in member sees the page inside the console (sidebar, shop switcher, language
switch), so a mistyped address is one click from where they were; anyone else gets the same answer
an unknown shop gives (sign-in first, or "no shop you are a member of"), so the page tells nothing
about which shops exist. Everything else (``/nope``) and server errors get the plain page, which needs
no database: a 500 may come from the database itself.
"""

from __future__ import annotations

import re

from fastapi import Request, Response

from ecomops.platform.console.i18n import N_, gettext
from ecomops.platform.console.shell import Page, error_page, open_page, render
from ecomops.platform.console.templating import request_locale

#: Paths that are never pages: the JSON API, Segment-compatible ingest, assets, docs and probes.
NOT_PAGES = ("/api/", "/v1/", "/static/", "/docs", "/redoc", "/openapi", "/healthz", "/readyz", "/metrics")
CONSOLE_PATH = re.compile(r"^/t/(?P<slug>[^/]+)(?:/|$)")

TITLES = {
    404: N_("Page not found"),
    403: N_("Not allowed"),
    405: N_("Page not found"),
    500: N_("Server error"),
}
MESSAGES = {
    404: N_("There is no page at %(path)s. Check the address, or use the navigation."),
    405: N_("There is no page at %(path)s. Check the address, or use the navigation."),
    403: N_("You may not open %(path)s."),
    500: N_("Something went wrong on our side; it has been logged (request %(request_id)s). Try again."),
}


def wants_html(request: Request) -> bool:
    """A browser navigating to a console address (see the module docstring)."""
    if request.method not in ("GET", "HEAD") or request.url.path.startswith(NOT_PAGES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _message(request: Request, status: int, request_id: str | None) -> str:
    template = MESSAGES.get(status, MESSAGES[404] if status < 500 else MESSAGES[500])
    return gettext(request_locale(request), template) % {
        "path": request.url.path,
        "request_id": request_id or "–",
    }


async def html_error(
    request: Request, status: int, message: str | None = None, request_id: str | None = None
) -> Response:
    """The page for ``status``; ``message`` (already in the reader's language) replaces the default one."""
    title = TITLES.get(status, N_("Invalid request") if status < 500 else TITLES[500])
    text = message or _message(request, status, request_id)
    match = CONSOLE_PATH.match(request.url.path)
    if status >= 500 or match is None:
        return error_page(request, status, title, text)
    page = await open_page(request, match["slug"], None, "")
    if not isinstance(page, Page):
        return page
    context = {"status": status, "title": title, "message": text}
    return render(page, "console/error_page.html", context, status=status)
