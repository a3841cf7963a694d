-- The standard Segment context fields as typed columns; `context` keeps only the rest (issue 11: ~1 KB of
-- context JSON per event was two thirds of the events table).
--
-- Every writer (ingest loader, simulator, this migration) splits the context with the macros below and every
-- reader of the whole context rebuilds it with `context_full(events)`: these macros are the one definition.
-- A key moves out of the JSON only when its value comes back exactly: strings into VARCHAR columns, whole
-- numbers into INTEGER ones, numbers into DOUBLE (`screen.density`, with a flag for whole numbers); any other
-- JSON type (null, an object, a number where a string is expected…) stays in `context`. Objects emptied by
-- the split stay as `{}` so the rebuilt object has the same keys.
--
-- Keys already promoted to shared columns (campaign.* → utm_*, page.url/path/referrer, device.type, os.name,
-- location.*, sessionId) are stripped only when that column holds the same string, recorded per key in the
-- bitmask `context_from_columns`: a page call's `page_url` comes from its properties first, so a different
-- `context.page.url` goes to `context_page_url`.
ALTER TABLE events ADD COLUMN user_agent VARCHAR;
ALTER TABLE events ADD COLUMN ip VARCHAR;
ALTER TABLE events ADD COLUMN locale VARCHAR;
ALTER TABLE events ADD COLUMN timezone VARCHAR;
ALTER TABLE events ADD COLUMN library_name VARCHAR;
ALTER TABLE events ADD COLUMN library_version VARCHAR;
ALTER TABLE events ADD COLUMN screen_width INTEGER;
ALTER TABLE events ADD COLUMN screen_height INTEGER;
ALTER TABLE events ADD COLUMN screen_density DOUBLE;
ALTER TABLE events ADD COLUMN device_id VARCHAR;
ALTER TABLE events ADD COLUMN device_manufacturer VARCHAR;
ALTER TABLE events ADD COLUMN device_model VARCHAR;
ALTER TABLE events ADD COLUMN os_version VARCHAR;
ALTER TABLE events ADD COLUMN page_title VARCHAR;
ALTER TABLE events ADD COLUMN page_search VARCHAR;
ALTER TABLE events ADD COLUMN context_page_url VARCHAR;
ALTER TABLE events ADD COLUMN app_name VARCHAR;
ALTER TABLE events ADD COLUMN app_version VARCHAR;
ALTER TABLE events ADD COLUMN app_build VARCHAR;
ALTER TABLE events ADD COLUMN context_from_columns USMALLINT;

-- The promoted paths, in this order (1-based):
--  1 userAgent  2 ip  3 locale  4 timezone  5 library.name  6 library.version  7 screen.width
--  8 screen.height  9 screen.density  10 device.id  11 device.manufacturer  12 device.model  13 os.version
--  14 page.title  15 page.search  16 app.name  17 app.version  18 app.build
--  shared columns, bit (n - 19) of context_from_columns: 19 campaign.source  20 campaign.medium
--  21 campaign.name  22 campaign.term  23 campaign.content  24 page.url  25 page.path  26 page.referrer
--  27 device.type  28 os.name  29 location.country  30 location.region  31 location.city  32 sessionId
--  bit 14: screen.density was a whole number.
-- A writer splits in stages, each a subquery of its own (a macro argument is repeated wherever it is used,
-- so a staged column is computed once): `t` = context_types(ctx) and `s` = context_texts(ctx) (one call
-- each), `mask` = context_mask(t, s, <the shared columns>), `c` = context_columns(t, s, mask), then it stores
-- `c.*` and context_remainder(ctx, c) as `context`.
CREATE MACRO context_types(ctx) AS json_type(ctx, ['$.userAgent', '$.ip', '$.locale', '$.timezone',
    '$.library.name', '$.library.version', '$.screen.width', '$.screen.height', '$.screen.density',
    '$.device.id', '$.device.manufacturer', '$.device.model', '$.os.version', '$.page.title', '$.page.search',
    '$.app.name', '$.app.version', '$.app.build', '$.campaign.source', '$.campaign.medium', '$.campaign.name',
    '$.campaign.term', '$.campaign.content', '$.page.url', '$.page.path', '$.page.referrer', '$.device.type',
    '$.os.name', '$.location.country', '$.location.region', '$.location.city', '$.sessionId']);
CREATE MACRO context_texts(ctx) AS json_extract_string(ctx, ['$.userAgent', '$.ip', '$.locale', '$.timezone',
    '$.library.name', '$.library.version', '$.screen.width', '$.screen.height', '$.screen.density',
    '$.device.id', '$.device.manufacturer', '$.device.model', '$.os.version', '$.page.title', '$.page.search',
    '$.app.name', '$.app.version', '$.app.build', '$.campaign.source', '$.campaign.medium', '$.campaign.name',
    '$.campaign.term', '$.campaign.content', '$.page.url', '$.page.path', '$.page.referrer', '$.device.type',
    '$.os.name', '$.location.country', '$.location.region', '$.location.city', '$.sessionId']);
CREATE MACRO context_str(t, s, i) AS CASE WHEN t[i] = 'VARCHAR' THEN s[i] END;
CREATE MACRO context_int(t, s, i) AS CASE WHEN t[i] IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(s[i] AS INTEGER) END;
CREATE MACRO context_whole(t, s, i) AS coalesce(t[i] IN ('BIGINT', 'UBIGINT')
    AND TRY_CAST(s[i] AS BIGINT) BETWEEN -9007199254740992 AND 9007199254740992, false);
CREATE MACRO context_num(t, s, i) AS
    CASE WHEN t[i] = 'DOUBLE' OR context_whole(t, s, i) THEN TRY_CAST(s[i] AS DOUBLE) END;
CREATE MACRO context_bit(t, s, i, col) AS CASE WHEN t[i] = 'VARCHAR' AND s[i] = col THEN 1 << (i - 19) ELSE 0 END;
CREATE MACRO context_mask(t, s, utm_source, utm_medium, utm_campaign, utm_term, utm_content, page_url, page_path,
        referrer, device, os, country, region, city, session_id) AS CAST(
    context_bit(t, s, 19, utm_source) | context_bit(t, s, 20, utm_medium) | context_bit(t, s, 21, utm_campaign)
    | context_bit(t, s, 22, utm_term) | context_bit(t, s, 23, utm_content) | context_bit(t, s, 24, page_url)
    | context_bit(t, s, 25, page_path) | context_bit(t, s, 26, referrer) | context_bit(t, s, 27, device)
    | context_bit(t, s, 28, os) | context_bit(t, s, 29, country) | context_bit(t, s, 30, region)
    | context_bit(t, s, 31, city) | context_bit(t, s, 32, session_id)
    | CASE WHEN context_whole(t, s, 9) THEN 1 << 14 ELSE 0 END AS USMALLINT);
CREATE MACRO context_has(mask, n) AS (mask >> n) & 1 = 1;
-- The typed columns (a STRUCT named like the events columns; NULL = not moved out of the JSON).
CREATE MACRO context_columns(t, s, mask) AS struct_pack(
    user_agent := context_str(t, s, 1), ip := context_str(t, s, 2), locale := context_str(t, s, 3),
    timezone := context_str(t, s, 4), library_name := context_str(t, s, 5),
    library_version := context_str(t, s, 6), screen_width := context_int(t, s, 7),
    screen_height := context_int(t, s, 8), screen_density := context_num(t, s, 9),
    device_id := context_str(t, s, 10), device_manufacturer := context_str(t, s, 11),
    device_model := context_str(t, s, 12), os_version := context_str(t, s, 13),
    page_title := context_str(t, s, 14), page_search := context_str(t, s, 15),
    context_page_url := CASE WHEN NOT context_has(mask, 5) THEN context_str(t, s, 24) END,
    app_name := context_str(t, s, 16), app_version := context_str(t, s, 17), app_build := context_str(t, s, 18),
    context_from_columns := CASE WHEN t IS NOT NULL THEN mask END);
-- '"key":null' when the key moved to a column (JSON merge patch, RFC 7396: null deletes), else NULL.
CREATE MACRO context_drop(key, moved) AS CASE WHEN moved THEN '"' || key || '":null' END;
-- '"key":{...}' of the non-NULL members, or NULL when there are none.
CREATE MACRO context_group(key, members) AS
    CASE WHEN members <> '' THEN '"' || key || '":{' || members || '}' END;
-- Which keys moved out of the JSON, as bits: 0-13 those of the shared columns (bit 5 also when the url went
-- to context_page_url), 16-33 those of the typed columns in the order of context_columns.
CREATE MACRO context_moved_keys(c) AS CAST(coalesce(c.context_from_columns, 0) & 16383 AS UBIGINT)
    | CASE WHEN c.context_page_url IS NOT NULL THEN 32 ELSE 0 END
    | CASE WHEN c.user_agent IS NOT NULL THEN CAST(1 AS UBIGINT) << 16 ELSE 0 END
    | CASE WHEN c.ip IS NOT NULL THEN CAST(1 AS UBIGINT) << 17 ELSE 0 END
    | CASE WHEN c.locale IS NOT NULL THEN CAST(1 AS UBIGINT) << 18 ELSE 0 END
    | CASE WHEN c.timezone IS NOT NULL THEN CAST(1 AS UBIGINT) << 19 ELSE 0 END
    | CASE WHEN c.library_name IS NOT NULL THEN CAST(1 AS UBIGINT) << 20 ELSE 0 END
    | CASE WHEN c.library_version IS NOT NULL THEN CAST(1 AS UBIGINT) << 21 ELSE 0 END
    | CASE WHEN c.screen_width IS NOT NULL THEN CAST(1 AS UBIGINT) << 22 ELSE 0 END
    | CASE WHEN c.screen_height IS NOT NULL THEN CAST(1 AS UBIGINT) << 23 ELSE 0 END
    | CASE WHEN c.screen_density IS NOT NULL THEN CAST(1 AS UBIGINT) << 24 ELSE 0 END
    | CASE WHEN c.device_id IS NOT NULL THEN CAST(1 AS UBIGINT) << 25 ELSE 0 END
    | CASE WHEN c.device_manufacturer IS NOT NULL THEN CAST(1 AS UBIGINT) << 26 ELSE 0 END
    | CASE WHEN c.device_model IS NOT NULL THEN CAST(1 AS UBIGINT) << 27 ELSE 0 END
    | CASE WHEN c.os_version IS NOT NULL THEN CAST(1 AS UBIGINT) << 28 ELSE 0 END
    | CASE WHEN c.page_title IS NOT NULL THEN CAST(1 AS UBIGINT) << 29 ELSE 0 END
    | CASE WHEN c.page_search IS NOT NULL THEN CAST(1 AS UBIGINT) << 30 ELSE 0 END
    | CASE WHEN c.app_name IS NOT NULL THEN CAST(1 AS UBIGINT) << 31 ELSE 0 END
    | CASE WHEN c.app_version IS NOT NULL THEN CAST(1 AS UBIGINT) << 32 ELSE 0 END
    | CASE WHEN c.app_build IS NOT NULL THEN CAST(1 AS UBIGINT) << 33 ELSE 0 END;
-- The JSON merge patch removing the moved keys `m`: rows share a handful of patterns, so a writer may build it
-- once per distinct `m` (the loader does).
CREATE MACRO context_strip_patch(m) AS CAST('{' || concat_ws(',',
    context_drop('userAgent', context_has(m, 16)), context_drop('ip', context_has(m, 17)),
    context_drop('locale', context_has(m, 18)), context_drop('timezone', context_has(m, 19)),
    context_group('library', concat_ws(',', context_drop('name', context_has(m, 20)),
        context_drop('version', context_has(m, 21)))),
    context_group('screen', concat_ws(',', context_drop('width', context_has(m, 22)),
        context_drop('height', context_has(m, 23)), context_drop('density', context_has(m, 24)))),
    context_group('device', concat_ws(',', context_drop('id', context_has(m, 25)),
        context_drop('manufacturer', context_has(m, 26)), context_drop('model', context_has(m, 27)),
        context_drop('type', context_has(m, 8)))),
    context_group('os', concat_ws(',', context_drop('version', context_has(m, 28)),
        context_drop('name', context_has(m, 9)))),
    context_group('page', concat_ws(',', context_drop('title', context_has(m, 29)),
        context_drop('search', context_has(m, 30)), context_drop('url', context_has(m, 5)),
        context_drop('path', context_has(m, 6)), context_drop('referrer', context_has(m, 7)))),
    context_group('app', concat_ws(',', context_drop('name', context_has(m, 31)),
        context_drop('version', context_has(m, 32)), context_drop('build', context_has(m, 33)))),
    context_group('campaign', concat_ws(',', context_drop('source', context_has(m, 0)),
        context_drop('medium', context_has(m, 1)), context_drop('name', context_has(m, 2)),
        context_drop('term', context_has(m, 3)), context_drop('content', context_has(m, 4)))),
    context_group('location', concat_ws(',', context_drop('country', context_has(m, 10)),
        context_drop('region', context_has(m, 11)), context_drop('city', context_has(m, 12)))),
    context_drop('sessionId', context_has(m, 13))) || '}' AS JSON);
-- The context without the keys that moved to the columns `c` (NULL stays NULL).
CREATE MACRO context_remainder(ctx, c) AS
    CASE WHEN ctx IS NOT NULL THEN json_merge_patch(ctx, context_strip_patch(context_moved_keys(c))) END;

-- The original context of an events row `e` (pass the row: `context_full(events)` or an alias).
CREATE MACRO context_put(key, value) AS CASE WHEN value IS NOT NULL THEN '"' || key || '":' || to_json(value) END;
CREATE MACRO context_shared(e, key, col, n) AS
    CASE WHEN context_has(e.context_from_columns, n) THEN context_put(key, col) END;
CREATE MACRO context_full(e) AS CASE WHEN e.context IS NOT NULL THEN json_merge_patch(e.context, CAST('{' ||
    concat_ws(',',
    context_put('userAgent', e.user_agent), context_put('ip', e.ip), context_put('locale', e.locale),
    context_put('timezone', e.timezone),
    context_group('library', concat_ws(',', context_put('name', e.library_name),
        context_put('version', e.library_version))),
    context_group('screen', concat_ws(',', context_put('width', e.screen_width),
        context_put('height', e.screen_height),
        context_put('density', CASE WHEN context_has(e.context_from_columns, 14)
            THEN to_json(CAST(e.screen_density AS BIGINT)) ELSE to_json(e.screen_density) END))),
    context_group('device', concat_ws(',', context_put('id', e.device_id),
        context_put('manufacturer', e.device_manufacturer), context_put('model', e.device_model),
        context_shared(e, 'type', e.device, 8))),
    context_group('os', concat_ws(',', context_put('version', e.os_version), context_shared(e, 'name', e.os, 9))),
    context_group('page', concat_ws(',', context_put('title', e.page_title), context_put('search', e.page_search),
        context_put('url', e.context_page_url), context_shared(e, 'url', e.page_url, 5),
        context_shared(e, 'path', e.page_path, 6), context_shared(e, 'referrer', e.referrer, 7))),
    context_group('app', concat_ws(',', context_put('name', e.app_name), context_put('version', e.app_version),
        context_put('build', e.app_build))),
    context_group('campaign', concat_ws(',', context_shared(e, 'source', e.utm_source, 0),
        context_shared(e, 'medium', e.utm_medium, 1), context_shared(e, 'name', e.utm_campaign, 2),
        context_shared(e, 'term', e.utm_term, 3), context_shared(e, 'content', e.utm_content, 4))),
    context_group('location', concat_ws(',', context_shared(e, 'country', e.country, 10),
        context_shared(e, 'region', e.region, 11), context_shared(e, 'city', e.city, 12))),
    context_shared(e, 'sessionId', e.session_id, 13)) || '}' AS JSON)) END;

-- Rows written before this migration: move their keys into the new columns.
UPDATE events SET user_agent = split.user_agent, ip = split.ip, locale = split.locale,
    timezone = split.timezone, library_name = split.library_name, library_version = split.library_version,
    screen_width = split.screen_width, screen_height = split.screen_height, screen_density = split.screen_density,
    device_id = split.device_id, device_manufacturer = split.device_manufacturer, device_model = split.device_model,
    os_version = split.os_version, page_title = split.page_title, page_search = split.page_search,
    context_page_url = split.context_page_url, app_name = split.app_name, app_version = split.app_version,
    app_build = split.app_build, context_from_columns = split.context_from_columns, context = split.context
FROM (SELECT rid, c.*, context_remainder(context, c) AS context FROM (
        SELECT rid, context, context_columns(t, s, mask) AS c FROM (
            SELECT rid, context, t, s, context_mask(t, s, utm_source, utm_medium, utm_campaign, utm_term,
                utm_content, page_url, page_path, referrer, device, os, country, region, city, session_id) AS mask
            FROM (SELECT rowid AS rid, *, context_types(context) AS t, context_texts(context) AS s
                  FROM events WHERE context IS NOT NULL)))) AS split
WHERE events.rowid = split.rid;
