"""A console page's ``?format=csv|xlsx``: the page's table as a download instead of the page.

Pages whose table comes from one service call hand that call (taking the format) to :func:`download`;
it answers the download, a 422 page for an unknown format, or ``None`` when the page should render as
usual. The page has already been opened with its permission, so the download is gated like the page.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.params import query_text
from ecomops.platform.console.shell import Page, error_page, problem_title
from ecomops.platform.export import FORMATS, ExportTable, Format, export_response, parse_format


async def download(page: Page, make: Callable[[Format], ExportTable]) -> Response | None:
    """The file ``make`` builds (audited there) for the request's ``format``, or ``None`` without one."""
    try:
        fmt = parse_format(query_text(page.request, "format"))
    except EcomopsError as exc:
        status = exc.status_code
        return error_page(page.request, status, problem_title(status), exc.message, page.session)
    if fmt is None:
        return None
    table = await run_in_threadpool(make, fmt)
    return export_response(table, fmt, page.locale)


def export_links(path: str, keep: str = "") -> dict[str, str]:
    """The export links' URLs: ``path`` with the page's own query (``keep``, encoded) and ``format``."""
    prefix = f"{path}?{keep}&" if keep else f"{path}?"
    return {f: f"{prefix}format={f}" for f in FORMATS}
