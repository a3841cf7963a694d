"""One path per use case: ``ecomops metrics``/``funnel`` answer and fail the same here (the file opened
read-only) and through a running server, and the same as ``GET …/metrics``/``…/funnel``."""

from __future__ import annotations

from pathlib import Path

from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.analytics.test_metrics_api_cli import IDS, WINDOW, load
from tests.one_path import cli_failure, cli_json, http_failure, serving

METRICS = ["metrics", "--tenant", "acme", *IDS.split(","), "--from", WINDOW["from"], "--to", WINDOW["to"]]
#: Raw facts on both paths: a file a command opens read-only keeps its rollups as they are.
SUCCESS = [*METRICS, "--breakdown", "channel", "--source", "facts", "-f", "json"]
#: Days of a UTC+5:30 zone are not whole UTC hours, so the rollups cannot answer: a 422 from the engine.
FAILURE = ["metrics", "--tenant", "acme", "gmv", "--timezone", "Asia/Kolkata", "--source", "rollups"]
FUNNEL = ["funnel", "--tenant", "acme", "--from", WINDOW["from"], "--to", WINDOW["to"], "-f", "json"]


def test_metrics_and_funnel_are_one_path(settings: Settings, tenant: TenantInfo, data_dir: Path) -> None:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        load(warehouse)
    finally:
        warehouse.close()
    here, here_funnel, here_failure = cli_json(*SUCCESS), cli_json(*FUNNEL), cli_failure(*FAILURE)
    with serving(data_dir, tenant.slug) as api:
        there, there_funnel, there_failure = cli_json(*SUCCESS), cli_json(*FUNNEL), cli_failure(*FAILURE)
        http = api.get(
            "/metrics", params={"ids": IDS, **WINDOW, "breakdown": "channel", "source": "facts"}
        ).json()
        http_funnel = api.get("/funnel", params=WINDOW).json()
        failed = http_failure(
            api.get("/metrics", params={"ids": "gmv", "timezone": "Asia/Kolkata", "source": "rollups"})
        )
    gmv = {t["breakdown_value"]: t["values"]["gmv"] for t in here["totals"]}
    assert gmv == {"web": "115.0000", "tmall": "50.0000"} and here["source"] == "facts"
    assert here == there == http
    assert here_funnel["steps"][0] == {
        "id": "visitors",
        "visitors": 3,
        "step_rate": None,
        "overall_rate": 1.0,
    }
    assert here_funnel == there_funnel == http_funnel
    assert here_failure[:2] == (422, "validation_failed") and "rollups cannot answer" in here_failure[2]
    assert here_failure == there_failure == failed
