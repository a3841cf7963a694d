"""The live page without a browser: both screens, the embedded snapshot, a bad screen, Chinese labels.

Every role has ``orders:read``, so the refusal path is the shell's (tests/console) and the API's (GATED)."""

from __future__ import annotations

import json
import re

from sqlalchemy import Engine

from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in


def test_live_page_normal_and_big_screen(server: InProcServer, engine: Engine) -> None:
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        page = client.get("/t/acme/live")
        assert page.status_code == 200, page.text
        html = page.text
        assert 'data-nav="live"' in html and 'aria-current="page"' in html
        data = re.search(r'<script type="application/json" id="live-data">(.*?)</script>', html, re.S)
        assert data is not None
        snap = json.loads(data.group(1))
        assert len(snap["minutes"]) == 60 and snap["currency"] == "CNY"
        assert 'data-stream="/api/v1/t/acme/live/stream"' in html
        assert "/static/console/live.js" in html and "/static/vendor/echarts/echarts.min.js" in html
        big = client.get("/t/acme/live", params={"screen": "big"})
        assert big.status_code == 200 and 'class="live-big"' in big.text
        assert 'id="sidebar"' not in big.text  # no navigation on the big screen
        bad = client.get("/t/acme/live", params={"screen": "huge"})
        assert bad.status_code == 422 and "screen" in bad.text
        zh = client.get("/t/acme/live", headers={"accept-language": "zh-CN"})
        assert "实时直播" in zh.text
