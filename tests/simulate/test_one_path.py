"""``ecomops demo seed`` answers alike through a running server and here, and as the API does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from tests.one_path import cli_failure, cli_json, http_failure, serving

SMALL = ["--days", "30", "--customers", "600", "--seed", "5", "--end-date", "2026-06-30"]
BODY = {"days": 30, "customers": 600, "seed": 5, "end_date": "2026-06-30"}
#: What differs between two runs of one seed: durations.
PER_RUN = {"timings", "events_per_second"}


def _stable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in PER_RUN}


def test_seed_answers_alike_here_through_the_server_and_over_http(
    data_dir: Path, settings: Settings, tenant: TenantInfo
) -> None:
    seed = ["demo", "seed", "--tenant", tenant.slug, *SMALL, "--json"]
    unknown = ["demo", "seed", "--tenant", "nope", *SMALL]
    with serving(data_dir, "nope") as api:
        over_http = http_failure(api.post("/demo/seed", json=BODY))
        through_server = cli_failure(*unknown)
        remote = cli_json(*seed)
    here = cli_failure(*unknown)
    local = cli_json(*seed)
    assert through_server == here == over_http == (404, "not_found", "tenant 'nope' not found")
    assert _stable(remote) == _stable(local)  # same parameters, same shop, same manifest and paths
    assert local["row_counts"]["customers"] == 600 and local["manifest"]["row_counts"] == local["row_counts"]


def test_if_missing_decides_alike_here_and_through_the_server(
    data_dir: Path, settings: Settings, tenant: TenantInfo
) -> None:
    cli_json("demo", "seed", "--tenant", tenant.slug, *SMALL, "--json")
    keep = ["demo", "seed", "--tenant", tenant.slug, *SMALL, "--if-missing", "--json"]
    here = cli_json(*keep)
    with serving(data_dir, tenant.slug) as api:
        through_server = cli_json(*keep)
        coverage = api.get("/demo/coverage").json()
    assert here == through_server == {"action": "reuse", "reason": here["reason"], "missing_days": 0}
    assert "2026-06-30" in here["reason"]
    assert (coverage["products"], coverage["customers"], coverage["last_event_day"]) == (
        202,
        600,
        "2026-06-30",
    )
