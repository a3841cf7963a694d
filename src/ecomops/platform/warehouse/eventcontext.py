"""Where an event's Segment ``context`` lives since platform migration 0002: its standard fields (userAgent,
ip, locale, timezone, library, screen, device, os.version, page title/search, app) in typed columns of
``events``, only the rest in the ``context`` JSON (about two thirds of the events table was that JSON).

The SQL macros the migration defines are the one definition of the split and of its inverse; this module
names them for the Python code that reads or rewrites the context, so no reader rebuilds it on its own.
"""

from __future__ import annotations

#: The typed columns holding context fields (NULL: absent, or not a value the column's type restores
#: exactly, so still in the JSON), in the order of the ``context_columns`` macro.
TYPED_COLUMNS = (
    "user_agent",
    "ip",
    "locale",
    "timezone",
    "library_name",
    "library_version",
    "screen_width",
    "screen_height",
    "screen_density",
    "device_id",
    "device_manufacturer",
    "device_model",
    "os_version",
    "page_title",
    "page_search",
    "context_page_url",
    "app_name",
    "app_version",
    "app_build",
)
#: Bitmask of the context keys stored in the shared analytics columns (utm_*, page_url, device…).
FROM_COLUMNS = "context_from_columns"
#: Every column that belongs to the context besides ``context`` itself: nulled with it on erasure.
CONTEXT_COLUMNS = (*TYPED_COLUMNS, FROM_COLUMNS)
#: Bits of ``context_from_columns`` for page.url and page.referrer (see the migration's path list).
PAGE_URL_BIT, PAGE_REFERRER_BIT = 5, 7
#: Typed columns that identify a person or a device, or can carry a query string: retention removes them
#: like the JSON keys ip, userAgent, device.id and page.url/search.
IDENTIFYING_COLUMNS = ("ip", "user_agent", "device_id", "context_page_url", "page_search")


def full_context(row: str = "events") -> str:
    """SQL for the original context object of the events row ``row`` (the table name or its alias)."""
    return f"context_full({row})"
