"""Platform migration 0002 moves the standard context fields of existing events into typed columns, and
``context_full`` gives back exactly the object that was stored before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from ecomops.platform.warehouse.eventcontext import full_context
from ecomops.platform.warehouse.schema import migrate, migrations

#: Contexts as SDKs send them, and the odd ones a column must not swallow: values of another JSON type at a
#: promoted path, non-standard keys inside standard objects, nulls, a whole-number and a fractional density.
CONTEXTS: list[dict[str, Any] | None] = [
    {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {
            "url": "https://s.example/p/1?utm_source=x",
            "path": "/p/1",
            "referrer": "https://g.example/",
            "title": "Dress | Shop",
            "search": "?utm_source=x",
        },
        "userAgent": 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "quoted" \u4e2d',
        "ip": "203.0.113.7",
        "locale": "zh-CN",
        "campaign": {"source": "douyin", "medium": "live", "name": "d11", "term": "dress", "content": "a"},
        "device": {
            "id": "8c821124102e1311",
            "type": "mobile",
            "manufacturer": "Apple",
            "model": "iPhone15,2",
        },
        "os": {"name": "iOS", "version": "17.5"},
        "screen": {"width": 390, "height": 844, "density": 3},
        "timezone": "Asia/Shanghai",
        "location": {"country": "CN", "region": "Zhejiang", "city": "Hangzhou"},
        "sessionId": "s-1",
    },
    {
        "app": {"name": "Shop", "version": "4.2.0", "build": "421", "namespace": "com.shop"},
        "device": {"id": 12345, "type": None, "advertisingId": "ad-1"},
        "os": {"name": "Android", "version": 14},
        "screen": {"width": 412.5, "height": "915", "density": 2.625},
        "ip": None,
        "locale": True,
        "traits": {"plan": "gold"},
        "network": {"wifi": True},
    },
    {"page": {"url": "https://s.example/cart"}, "library": {}},
    {},
    None,
]


def _old_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse as every migration but platform 0002 left it."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE _module_migrations (module VARCHAR NOT NULL, version INTEGER NOT NULL,"
        " name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " PRIMARY KEY (module, version))"
    )
    for m in migrations():
        if (m.module, m.version) == ("platform", 2):
            continue
        con.execute(m.sql)
        con.execute(
            "INSERT INTO _module_migrations (module, version, name) VALUES (?, ?, ?)",
            [m.module, m.version, m.name],
        )
    return con


def test_migration_moves_existing_context_keys_to_columns_and_restores_them(tmp_path: Path) -> None:
    con = _old_warehouse(tmp_path / "old.duckdb")
    try:
        for n, ctx in enumerate(CONTEXTS):
            raw = json.dumps(ctx) if ctx is not None else None
            # Shared columns as the loader derived them; event 0 is a page call with a url in properties.
            con.execute(
                """INSERT INTO events (message_id, type, ts, received_at, context, utm_source, utm_medium,
                       utm_campaign, utm_term, utm_content, page_url, page_path, referrer, device, os,
                       country, region, city, session_id)
                   SELECT ?, 'page', now(), now(), c, c->>'$.campaign.source', c->>'$.campaign.medium',
                       c->>'$.campaign.name', c->>'$.campaign.term', c->>'$.campaign.content',
                       CASE WHEN ? = 0 THEN 'https://s.example/p/1' ELSE c->>'$.page.url' END,
                       c->>'$.page.path', c->>'$.page.referrer', c->>'$.device.type', c->>'$.os.name',
                       c->>'$.location.country', c->>'$.location.region', c->>'$.location.city',
                       c->>'$.sessionId'
                   FROM (SELECT CAST(? AS JSON) AS c)""",
                [f"m{n}", n, raw],
            )
        assert migrate(con) == [("platform", 2)]
        rows = con.execute(
            f"SELECT message_id, context, {full_context('e')}, ip, user_agent, screen_width, screen_density, "
            "os_version, device_id, context_page_url, app_build FROM events e ORDER BY message_id"
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        for n, ctx in enumerate(CONTEXTS):
            full = by_id[f"m{n}"][2]
            assert (json.loads(full) if full is not None else None) == ctx, f"m{n}: {full}"
        # Event 0: every standard key left the JSON; only emptied objects remain.
        m0 = by_id["m0"]
        assert json.loads(m0[1]) == {
            k: {} for k in ("library", "page", "campaign", "device", "os", "screen", "location")
        }
        assert m0[3:] == (
            "203.0.113.7",
            CONTEXTS[0]["userAgent"],
            390,
            3.0,
            "17.5",  # type: ignore[index]
            "8c821124102e1311",
            "https://s.example/p/1?utm_source=x",
            None,
        )
        # Event 1: values of another JSON type stay in the JSON, as do non-standard keys.
        m1 = by_id["m1"]
        rest1 = json.loads(m1[1])
        assert rest1["device"] == {"id": 12345, "type": None, "advertisingId": "ad-1"}
        assert rest1["os"] == {"version": 14} and rest1["locale"] is True and rest1["ip"] is None
        assert rest1["screen"] == {"width": 412.5, "height": "915"} and m1[6] == 2.625
        assert rest1["app"] == {"namespace": "com.shop"} and m1[10] == "421"
        assert by_id["m4"][1] is None and by_id["m4"][2] is None
    finally:
        con.close()
