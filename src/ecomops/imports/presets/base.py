"""What a preset is: the files it understands and the SQL that turns them into staged warehouse rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from ecomops.imports.mapping import MappingFile, parse_mapping
from ecomops.imports.reader import FileKind
from ecomops.imports.session_mapping import SessionMapping, parse_session_mapping
from ecomops.imports.staging import Staging

#: Value parsers shared by every preset. A parser returns NULL for text it cannot read, so a
#: check "value present but parser NULL" is exactly "bad value" and becomes a reject line.
MACROS = r"""
CREATE MACRO to_money(x) AS TRY_CAST(trim(x) AS DECIMAL(18,4));
-- Whole numbers only ("12" and "12.0" yes, "12.5" no), within INTEGER range.
CREATE MACRO to_int(x) AS CASE
    WHEN TRY_CAST(trim(x) AS DECIMAL(18,4)) IS NOT NULL
     AND TRY_CAST(trim(x) AS DECIMAL(18,4)) = trunc(TRY_CAST(trim(x) AS DECIMAL(18,4)))
     AND abs(TRY_CAST(trim(x) AS DECIMAL(18,4))) <= 2147483647
    THEN CAST(TRY_CAST(trim(x) AS DECIMAL(18,4)) AS INTEGER) END;
-- Timestamps with an explicit offset keep it; naive ones are local time in ``tz``.
CREATE MACRO to_ts(x, aware_formats, naive_formats, tz) AS coalesce(
    try_strptime(regexp_replace(trim(x), '(Z|z)$', '+00:00'), aware_formats),
    timezone(tz, try_strptime(trim(x), naive_formats)));
-- Integer-valued ids written by spreadsheets as floats ("17850.0") are the same id.
CREATE MACRO clean_id(x) AS nullif(regexp_replace(trim(x), '^(\d+)\.0+$', '\1'), '');
"""

#: Layouts accepted when a file has no format of its own; month-first slashes as Excel writes them.
NAIVE_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
]
AWARE_FORMATS = [
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
]

#: Reject reasons shared by presets, so the same problem always reads the same.
MISSING = "missing value"
NOT_INTEGER = "not a whole number"
NOT_MONEY = "not a decimal number (at most 14 digits before the point)"
NOT_TIMESTAMP = "not a timestamp"

#: A preset's mapping file: order lines (generic) or sessions.
Mapping = MappingFile | SessionMapping


@dataclass(frozen=True)
class PresetContext:
    """Everything a preset's SQL may depend on besides the staged rows."""

    source: str
    currency: str
    timezone: str
    channel: str | None
    #: Order ids → (order_id, ordered_at, currency, customer_id) already in the warehouse.
    lookup_orders: Callable[[pa.Table], pa.Table]
    #: Emails → keyed pseudonyms (HMAC with the tenant's secret); the email itself is never stored.
    pseudonymize: Callable[[list[str | None]], list[str | None]]
    mapping: Mapping | None = None
    #: Month-only session rows fall in the 12 months ending with this date's month (sessions presets).
    reference_date: date | None = None
    #: Upper-cased code → class of non-product lines (the preset's defaults, changed by ``--mapping``).
    line_classes: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "currency": self.currency,
            "tz": self.timezone,
            "channel": self.channel,
            "naive_formats": NAIVE_FORMATS,
            "aware_formats": AWARE_FORMATS,
        }


@dataclass(frozen=True)
class Preset:
    name: str
    #: Kinds this preset reads; the generic and sessions presets' depend on the mapping file.
    kinds: Callable[[Mapping | None], tuple[FileKind, ...]]
    transform: Callable[[Staging, PresetContext], None]
    #: None = the tenant's time zone / currency.
    default_timezone: str | None = None
    default_currency: str | None = None
    #: Order totals are the sum of their lines, so lines added to an existing order update it.
    totals_from_items: bool = True
    #: Checks the set of file kinds before any row is read (e.g. Olist orders need customers).
    check_kinds: Callable[[dict[str, list[str]]], None] | None = None
    #: The ``source`` namespace of ids when the caller doesn't name one.
    source: str = ""
    #: Parses this preset's mapping file; None = the preset takes no mapping file.
    parse_mapping: Callable[[str], Mapping] | None = None
    #: The preset cannot run without a mapping file.
    needs_mapping: bool = False
    #: The built-in mapping of a fixed layout read by mapping-driven code (uci-online-shoppers).
    default_mapping: Mapping | None = None
    #: Default code → class of non-product lines for presets that classify them; None: the preset
    #: has no such lines (and ``--mapping`` is not a line-class file for it).
    line_classes: dict[str, str] | None = None
    #: Order status follows the quantity refunded (presets whose returns are separate documents).
    status_from_refunds: bool = False


def parse_order_mapping(text: str) -> Mapping:
    return parse_mapping(text)


def parse_sessions_mapping(text: str) -> Mapping:
    return parse_session_mapping(text)


def install_macros(staging: Staging) -> None:
    staging.con.execute(MACROS)


def register_line_classes(staging: Staging, ctx: PresetContext) -> None:
    """The effective code → class table as ``line_classes(code, kind)``, codes upper-cased."""
    staging.register(
        "line_classes",
        pa.table(
            {
                "code": pa.array(list(ctx.line_classes), pa.string()),
                "kind": pa.array(list(ctx.line_classes.values()), pa.string()),
            }
        ),
    )


def lookup_existing_orders(staging: Staging, ctx: PresetContext, sql: str) -> None:
    """Fetch warehouse orders referenced by staged rows (``sql`` yields ``order_id``) into ``wh_orders``."""
    ids = staging.arrow(sql)
    staging.register("wh_orders", ctx.lookup_orders(ids))


def register_pseudonyms(staging: Staging, ctx: PresetContext, emails_sql: str) -> None:
    """Map each distinct e-mail of the import to its pseudonym (table ``pseudonyms``), in Python."""
    emails = staging.arrow(emails_sql).column(0).to_pylist()
    staging.register(
        "pseudonyms",
        pa.table(
            {
                "email": pa.array(emails, pa.string()),
                "customer_id": pa.array(ctx.pseudonymize(emails), pa.string()),
            }
        ),
    )
