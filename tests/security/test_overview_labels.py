"""HTML in a channel name reaches the overview's chart tooltip (issue 10): ECharts shows what a tooltip
formatter returns as HTML, and ``overview.js`` built it from the channel label as it came from the data.

The attack runs end to end: an import whose channel column holds markup, the overview page of a viewer
over HTTP (server-rendered text must be escaped, the chart's JSON must carry the label as data), then
the page's own ``overview.js`` as the server serves it, run by Node.js with a stand-in for ECharts that
hands its tooltip formatters the label, as ECharts does on hover.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.timing import DEADLINE

LABEL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
MARKER = '<span class="marker"></span>'

MAPPING = """\
source: shop
currency: CNY
timestamp_format: "%Y-%m-%d %H:%M"
columns:
  order_id: order_no
  ordered_at: order_time
  quantity: qty
  line_total: amount
  channel: channel
"""
ORDERS = f"""\
order_no,order_time,qty,amount,channel
X-1,2026-11-10 10:00,1,100.00,{LABEL}
X-2,2026-11-11 11:00,1,50.00,web
"""

#: Runs overview.js with just enough of a browser and of ECharts to call its tooltip formatters.
HARNESS = """
var charts = JSON.parse(process.argv[2]);
var captured = {};
var window = {
  echarts: { init: function (el) { return {
    setOption: function (option) { captured[el.id] = option; }, on: function () {}, resize: function () {}
  }; } },
  addEventListener: function () {}, location: { assign: function () {} }
};
var document = {
  readyState: "complete", addEventListener: function () {},
  getElementById: function (id) {
    if (!(id in charts)) { return null; }
    return { id: id, hidden: false, getAttribute: function () { return JSON.stringify(charts[id]); } };
  }
};
%SCRIPT%
var label = process.argv[3], marker = process.argv[4];
var pie = charts["ov-channels"].items.filter(function (i) { return i.name === label; })[0];
console.log(JSON.stringify({
  pie: captured["ov-channels"].tooltip.formatter(
    { marker: marker, name: pie.name, value: pie.value, percent: 66.67 }
  ),
  trend: captured["ov-trend"].tooltip.formatter([
    { axisValueLabel: label, seriesIndex: 0, seriesName: label, value: 100, marker: marker },
    { axisValueLabel: label, seriesIndex: 1, seriesName: label, value: 1, marker: marker }
  ])
}));
"""


def _import(server: InProcServer, engine: Engine) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "admin", "importer")
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    ) as api:
        created = api.post(
            "/imports",
            files=[
                ("files", ("orders.csv", ORDERS.encode(), "text/csv")),
                ("mapping", ("mapping.yaml", MAPPING.encode(), "application/yaml")),
            ],
            data={"preset": "generic"},
        )
        assert created.status_code == 202, created.text
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            job: dict[str, Any] = api.get(f"/imports/{created.json()['id']}").json()
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        assert job["status"] == "succeeded", job


def _chart(page: str, element_id: str) -> Any:
    match = re.search(rf'id="{element_id}" data-chart="([^"]*)"', page)
    assert match, element_id
    return json.loads(html.unescape(match.group(1)))


def test_a_channel_name_with_markup_is_escaped_in_the_overview(
    server: InProcServer, engine: Engine, tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is needed to run the console's overview.js")
    _import(server, engine)
    add_member(engine, "viewer@acme.test", "viewer")
    with signed_in(server, "viewer@acme.test") as (client, _):
        window = {"range": "custom", "from": "2026-11-01", "to": "2026-11-20"}
        response = client.get("/t/acme/", params=window)
        assert response.status_code == 200, response.text[:500]
        script = client.get("/static/console/overview.js")
        assert script.status_code == 200
    page = response.text

    # Server-rendered: the channel table shows the label as text, never as markup.
    assert LABEL not in page and ESCAPED in page
    # The chart's JSON carries the label as data (the JS gets it unchanged and must escape it).
    channels = _chart(page, "ov-channels")
    assert LABEL in [item["name"] for item in channels["items"]]
    charts = {"ov-channels": channels, "ov-trend": _chart(page, "ov-trend")}

    harness = tmp_path / "overview-harness.js"
    harness.write_text(HARNESS.replace("%SCRIPT%", script.text), encoding="utf-8")
    run = subprocess.run(
        [node, str(harness), json.dumps(charts), LABEL, MARKER],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    tooltips = json.loads(run.stdout)
    for name in ("pie", "trend"):
        shown = tooltips[name]
        assert "<img" not in shown, (name, shown)
        assert ESCAPED in shown and MARKER + " " + ESCAPED in shown, (name, shown)  # the marker stays HTML
    assert tooltips["pie"].startswith(MARKER + " " + ESCAPED + ": ")
    assert tooltips["trend"].startswith(ESCAPED + "<br>") and tooltips["trend"].count("<br>") == 2
