"""Session-level exports (one row per visit) as events: the ``sessions`` and ``uci-online-shoppers`` presets.

Rules (docs/imports.md#sessions):
- Each valid row is one anonymous visitor's session; ``anonymous_id`` = ``session_id`` =
  stable_id(source, session key), the key being the mapped session id, else the file's SHA-256 and the
  row number (so re-importing the file adds nothing, and two files never share a session).
- Events: a ``Session Started`` track event at the session's start carrying the session's attributes
  (visitor type, traffic type, month, weekend, browser, page counts, durations, measures, purchase);
  one ``page`` event per counted page (path ``/<page type>``), page types in mapping order, the pages
  of a type spread evenly over that type's duration; when purchased a ``Session Converted`` track event
  at the session's end (start + total duration) with the revenue when mapped.
- Placement without ``started_at``: month M falls in the 12 months ending with the reference date's
  month; the day is drawn deterministically (from the session id) among the month's Saturdays and
  Sundays when the weekend flag is true, its Monday–Fridays when false, all its days when missing;
  the start second so the session ends on that local day; local time in the import's time zone.
- Duration -1 means unknown (0 seconds); other negatives, negative page counts, unreadable months,
  flags and numbers, more than 10,000 pages or a session of a day or longer are rejected.
"""

# The statements are assembled from generated column names (page_0, n_0, …) and module constants only;
# every value from the mapping file or the data is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import pyarrow as pa

from ecomops.imports.presets.base import (
    AWARE_FORMATS,
    MISSING,
    NAIVE_FORMATS,
    NOT_INTEGER,
    NOT_MONEY,
    NOT_TIMESTAMP,
    Mapping,
    Preset,
    PresetContext,
    parse_sessions_mapping,
)
from ecomops.imports.reader import Column, FileKind
from ecomops.imports.session_mapping import SessionColumns, SessionMapping
from ecomops.imports.staging import Staging
from ecomops.kernel.errors import ValidationFailed

SESSION_STARTED = "Session Started"
SESSION_CONVERTED = "Session Converted"
MAX_PAGES = 10_000
DAY_SECONDS = 86_400

#: The UCI "Online Shoppers Purchasing Intention" file (Sakar et al. 2018), as its header spells it.
UCI_MAPPING = SessionMapping(
    source="uci-online-shoppers",
    visitor_type_map={"Returning_Visitor": "returning", "New_Visitor": "new", "Other": "other"},
    columns=SessionColumns(
        month="Month",
        weekend="Weekend",
        pages={
            "administrative": "Administrative",
            "informational": "Informational",
            "product_related": "ProductRelated",
        },
        durations={
            "administrative": "Administrative_Duration",
            "informational": "Informational_Duration",
            "product_related": "ProductRelated_Duration",
        },
        traffic_type="TrafficType",
        visitor_type="VisitorType",
        browser="Browser",
        os="OperatingSystems",
        region="Region",
        purchased="Revenue",
        measures={
            "bounce_rate": "BounceRates",
            "exit_rate": "ExitRates",
            "page_value": "PageValues",
            "special_day": "SpecialDay",
        },
    ),
)

#: Single-value session fields: canonical staged column = the SessionColumns field.
FIELDS = (
    "session_id",
    "started_at",
    "month",
    "weekend",
    "traffic_type",
    "traffic_source",
    "visitor_type",
    "device",
    "browser",
    "os",
    "region",
    "country",
    "purchased",
    "revenue",
)

#: Month names as exports write them (UCI writes "June" in full and the other months abbreviated).
MONTHS = {
    **{
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    **{
        m: i + 1
        for i, m in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ]
        )
    },
    "sept": 9,
    **{str(i): i for i in range(1, 13)},
    **{f"{i:02d}": i for i in range(1, 10)},
}

REASONS = {
    "missing": MISSING,
    "not_int": NOT_INTEGER,
    "not_money": NOT_MONEY,
    "not_number": "not a number",
    "not_month": "not a month (Jan…Dec, full names such as June, or 1–12)",
    "not_bool": "not a true/false value (true/false, yes/no, 1/0)",
    "negative": "must not be negative",
    "negative_duration": "duration must not be negative (-1 means unknown)",
    "too_many_pages": f"more than {MAX_PAGES:,} pages in one session",
    "too_long": "session of a day or longer (the durations add up to 86,400 seconds or more)",
}

MACROS = """
CREATE OR REPLACE MACRO to_flag(x) AS CASE
    WHEN lower(trim(x)) IN ('true', 't', 'yes', 'y', '1') THEN true
    WHEN lower(trim(x)) IN ('false', 'f', 'no', 'n', '0') THEN false END;
CREATE OR REPLACE MACRO to_num(x) AS TRY_CAST(trim(x) AS DOUBLE);
-- A deterministic non-negative integer from a text (48 bits of its MD5).
CREATE OR REPLACE MACRO draw(x) AS CAST('0x' || left(md5(x), 12) AS BIGINT);
"""


def effective_mapping(mapping: Mapping | None) -> SessionMapping:
    if isinstance(mapping, SessionMapping):
        return mapping
    raise ValidationFailed(
        "the sessions preset needs a sessions mapping file (--mapping sessions.yaml)", {"field": "mapping"}
    )


def _kinds(mapping: Mapping | None) -> tuple[FileKind, ...]:
    cols = effective_mapping(mapping).columns
    chosen: dict[str, str | None] = {f: getattr(cols, f) for f in FIELDS}
    for i, (page_type, header) in enumerate(cols.pages.items()):
        chosen[f"page_{i}"] = header
        chosen[f"duration_{i}"] = cols.durations.get(page_type)
    for i, header in enumerate(cols.measures.values()):
        chosen[f"measure_{i}"] = header
    columns = tuple(Column(f, (h,), required=True, match_name=False) for f, h in chosen.items() if h)
    absent = tuple(f for f, h in chosen.items() if not h)
    return (FileKind("sessions", "sessions described by the mapping", columns, absent),)


def _sql(cols: SessionColumns) -> list[str]:
    """The preset's statements for this mapping. Only generated column names (page_0, …) and the
    numbers of page types and measures vary; every value from the mapping is a parameter."""
    pages = range(len(cols.pages))
    measures = range(len(cols.measures))
    typed_pages = "".join(
        f", page_{i}, to_int(page_{i}) AS n_{i}, duration_{i}, to_num(duration_{i}) AS d_{i}" for i in pages
    )
    typed_measures = "".join(f", measure_{i}, to_num(measure_{i}) AS x_{i}" for i in measures)
    typed = f"""
CREATE TABLE t_sessions AS
SELECT r._file, r._row, nullif(trim(r.session_id), '') AS sid_text, r.session_id,
       r.started_at, to_ts(r.started_at, $s_aware, $s_naive, $tz) AS started_ts,
       r.month, m.month_no, r.weekend, to_flag(r.weekend) AS is_weekend,
       nullif(trim(r.traffic_type), '') AS traffic_type, nullif(trim(r.traffic_source), '') AS traffic_source,
       coalesce(v.visitor_type, nullif(trim(r.visitor_type), '')) AS visitor_type,
       nullif(trim(r.device), '') AS device, nullif(trim(r.browser), '') AS browser,
       nullif(trim(r.os), '') AS os, nullif(trim(r.region), '') AS region,
       nullif(trim(r.country), '') AS country,
       r.purchased, to_flag(r.purchased) AS is_purchased, r.revenue, to_money(r.revenue) AS revenue_m
       {typed_pages}{typed_measures}
FROM raw_sessions r
LEFT JOIN month_names m ON m.name = lower(trim(r.month))
LEFT JOIN visitor_types v ON v.source_text = trim(r.visitor_type)
"""
    checks = [
        "SELECT _file, _row, 'session_id', NULL, $missing, 1 FROM t_sessions "
        "WHERE $has_session_id AND sid_text IS NULL",
        "SELECT _file, _row, 'started_at', started_at, "
        "CASE WHEN started_at IS NULL OR trim(started_at) = '' THEN $missing ELSE $not_ts END, 2 "
        "FROM t_sessions WHERE $has_started_at AND started_ts IS NULL",
        "SELECT _file, _row, 'month', month, "
        "CASE WHEN month IS NULL OR trim(month) = '' THEN $missing ELSE $not_month END, 3 "
        "FROM t_sessions WHERE NOT $has_started_at AND month_no IS NULL",
        "SELECT _file, _row, 'weekend', weekend, $not_bool, 4 FROM t_sessions "
        "WHERE nullif(trim(weekend), '') IS NOT NULL AND is_weekend IS NULL",
        "SELECT _file, _row, 'purchased', purchased, "
        "CASE WHEN purchased IS NULL OR trim(purchased) = '' THEN $missing ELSE $not_bool END, 5 "
        "FROM t_sessions WHERE is_purchased IS NULL",
        "SELECT _file, _row, 'revenue', revenue, $not_money, 6 FROM t_sessions "
        "WHERE nullif(trim(revenue), '') IS NOT NULL AND revenue_m IS NULL",
        "SELECT _file, _row, 'revenue', revenue, $negative, 7 FROM t_sessions WHERE revenue_m < 0",
    ]
    for i in pages:
        checks += [
            f"SELECT _file, _row, 'page_{i}', page_{i}, CASE WHEN page_{i} IS NULL OR trim(page_{i}) = '' "
            f"THEN $missing ELSE $not_int END, {10 + 4 * i} FROM t_sessions WHERE n_{i} IS NULL",
            f"SELECT _file, _row, 'page_{i}', page_{i}, $negative, {11 + 4 * i} FROM t_sessions "
            f"WHERE n_{i} < 0",
            f"SELECT _file, _row, 'duration_{i}', duration_{i}, $not_number, {12 + 4 * i} FROM t_sessions "
            f"WHERE nullif(trim(duration_{i}), '') IS NOT NULL AND d_{i} IS NULL",
            f"SELECT _file, _row, 'duration_{i}', duration_{i}, $negative_duration, {13 + 4 * i} "
            f"FROM t_sessions WHERE d_{i} < 0 AND d_{i} <> -1",
        ]
    for i in measures:
        checks.append(
            f"SELECT _file, _row, 'measure_{i}', measure_{i}, $not_number, {100 + i} FROM t_sessions "
            f"WHERE nullif(trim(measure_{i}), '') IS NOT NULL AND x_{i} IS NULL"
        )
    page_sum = " + ".join(f"n_{i}" for i in pages)
    seconds = " + ".join(f"greatest(coalesce(d_{i}, 0), 0)" for i in pages)
    checks += [
        f"SELECT _file, _row, 'page_0', page_0, $too_many_pages, 200 FROM t_sessions "
        f"WHERE {page_sum} > {MAX_PAGES}",
        f"SELECT _file, _row, 'duration_0', duration_0, $too_long, 201 FROM t_sessions "
        f"WHERE {seconds} >= {DAY_SECONDS}",
    ]
    # Seconds before each page type's first page: the durations of the types before it.
    offsets = ["0.0"] + [
        " + ".join(f"greatest(coalesce(d_{j}, 0), 0)" for j in range(i + 1))
        for i in range(len(cols.pages) - 1)
    ]
    placed = f"""
CREATE TABLE p_sessions AS
SELECT *, CASE WHEN $has_started_at THEN timezone($tz, started_ts)
               ELSE days[1 + draw(sid || ':day') % len(days)]
                    + to_microseconds(1000000 * (draw(sid || ':second')
                                                 % ({DAY_SECONDS} - CAST(ceil(seconds) AS BIGINT))))
          END AS local_start
FROM (SELECT *, CASE WHEN NOT $has_started_at THEN list_filter(
                  generate_series(make_date(year, month_no, 1), last_day(make_date(year, month_no, 1)),
                                  INTERVAL 1 DAY),
                  x -> is_weekend IS NULL OR (isodow(x) >= 6) = is_weekend) END AS days
      FROM (SELECT v.*, stable_id_of(concat_ws(chr(31), $source,
                            coalesce(v.sid_text, f.sha256 || ':' || CAST(v._row AS VARCHAR)))) AS sid,
                   {seconds} AS seconds,
                   CASE WHEN v.month_no <= $ref_month THEN $ref_year ELSE $ref_year - 1 END AS year
            FROM t_sessions v JOIN import_files f USING (_file)
            ANTI JOIN rejects r ON r._file = v._file AND r._row = v._row))
"""
    page_json = ", ".join(f"$page_name_{i}, n_{i}" for i in pages)
    duration_json = ", ".join(f"$page_name_{i}, d_{i}" for i in pages)
    measure_json = ", ".join(f"$measure_name_{i}, x_{i}" for i in measures)
    # The columns every event of a session shares, after message_id, type and event.
    insert = f"INSERT INTO st_events ({EVENT_COLUMNS})"
    shared = "sid, {ts}, $source, $channel, sid, traffic_source, {path}, device, os, country, region, NULL"
    started = f"""
{insert}
SELECT stable_id_of(concat_ws(chr(31), sid, 'start')), 'track', $started,
       {shared.format(ts="timezone($tz, local_start)", path="NULL")}, NULL, NULL,
       json_object('visitor_type', visitor_type, 'traffic_type', traffic_type,
                   'month', strftime(local_start, '%Y-%m'), 'weekend', isodow(local_start) >= 6,
                   'browser', browser, 'purchased', is_purchased, 'revenue', revenue_m, 'seconds', seconds,
                   'pages', json_object({page_json}), 'durations', json_object({duration_json}),
                   'measures', json_object({measure_json})),
       true, _file, _row
FROM p_sessions
"""
    expanded = " UNION ALL ".join(
        f"SELECT *, $page_name_{i} AS page_type, n_{i} AS n, {offsets[i]} AS type_offset, "
        f"greatest(coalesce(d_{i}, 0), 0) AS type_seconds, unnest(range(n_{i})) AS j "
        f"FROM p_sessions WHERE n_{i} > 0"
        for i in pages
    )
    page_ts = (
        "timezone($tz, local_start"
        " + to_microseconds(CAST(1000000 * (type_offset + type_seconds * j / n) AS BIGINT)))"
    )
    page_events = f"""
{insert}
SELECT stable_id_of(concat_ws(chr(31), sid, 'page', page_type, CAST(j AS VARCHAR))), 'page', NULL,
       {shared.format(ts=page_ts, path="'/' || page_type")}, NULL, NULL,
       json_object('page_type', page_type, 'page', j + 1, 'of', n), false, _file, _row
FROM ({expanded})
"""
    end_ts = "timezone($tz, local_start + to_microseconds(CAST(1000000 * seconds AS BIGINT)))"
    converted = f"""
{insert}
SELECT stable_id_of(concat_ws(chr(31), sid, 'converted')), 'track', $converted,
       {shared.format(ts=end_ts, path="NULL")}, revenue_m, CASE WHEN revenue_m IS NOT NULL THEN $currency END,
       json_object('revenue', revenue_m), false, _file, _row
FROM p_sessions WHERE is_purchased
"""
    return [
        typed,
        "INSERT INTO rejects\n" + "\nUNION ALL\n".join(checks),
        placed,
        started,
        page_events,
        converted,
    ]


EVENT_COLUMNS = (
    "message_id, type, event, anonymous_id, ts, source_id, channel, session_id, utm_source, page_path, "
    "device, os, country, region, city, revenue, currency, properties, _record, _file, _row"
)


def _name_table(pairs: dict[str, object], key: str, value: str, value_type: pa.DataType) -> pa.Table:
    return pa.table(
        {key: pa.array(list(pairs), pa.string()), value: pa.array(list(pairs.values()), value_type)}
    )


def transform(staging: Staging, ctx: PresetContext) -> None:
    mapping = effective_mapping(ctx.mapping)
    cols = mapping.columns
    if cols.started_at is None and ctx.reference_date is None:
        raise ValidationFailed(
            "sessions without a start time need a reference date (--reference-date YYYY-MM-DD): "
            "months are placed in the 12 months ending with it",
            {"field": "reference_date"},
        )
    layouts = ", ".join(mapping.timestamp_format or ["ISO 8601"])
    ref = ctx.reference_date
    params: dict[str, object] = {
        **ctx.params(),
        **REASONS,
        "not_ts": f"{NOT_TIMESTAMP} (expected {layouts})",
        "s_aware": mapping.aware_formats() or AWARE_FORMATS,
        "s_naive": mapping.naive_formats() or NAIVE_FORMATS,
        "has_session_id": cols.session_id is not None,
        "has_started_at": cols.started_at is not None,
        "ref_year": ref.year if ref else 0,
        "ref_month": ref.month if ref else 0,
        "started": SESSION_STARTED,
        "converted": SESSION_CONVERTED,
        **{f"page_name_{i}": name for i, name in enumerate(cols.pages)},
        **{f"measure_name_{i}": name for i, name in enumerate(cols.measures)},
    }
    staging.register("month_names", _name_table(dict(MONTHS), "name", "month_no", pa.int32()))
    staging.register(
        "visitor_types",
        _name_table(dict(mapping.visitor_type_map), "source_text", "visitor_type", pa.string()),
    )
    staging.run(MACROS)
    staging.script(_sql(cols), params)


PRESET = Preset(
    name="sessions",
    kinds=_kinds,
    transform=transform,
    totals_from_items=False,
    source="sessions",
    parse_mapping=parse_sessions_mapping,
    needs_mapping=True,
)

UCI_PRESET = Preset(
    name="uci-online-shoppers",
    kinds=_kinds,
    transform=transform,
    totals_from_items=False,
    source="uci-online-shoppers",
    default_mapping=UCI_MAPPING,
)
