"""``ecomops customers`` answers alike through a running server and here, and as the API does; a
reveal is audited on both paths (as the server's local caller, or as the OS user)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ecomops.audit.service import export
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from tests.customers.test_customers_cli import _seed
from tests.one_path import cli_failure, cli_json, http_failure, serving

LIST = ["customers", "list", "--tenant", "acme", "--json"]
REVEAL = ["customers", "show", "c-1", "--tenant", "acme", "--reveal"]
MISSING = ["customers", "show", "nobody", "--tenant", "acme"]


def _run_all() -> tuple[object, ...]:
    return (
        cli_json(*LIST),
        cli_json(*REVEAL),
        cli_failure(*MISSING),
    )


def test_customers_cli_answers_alike_here_through_the_server_and_over_http(
    data_dir: Path, settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    _seed(settings, engine, tenant)
    with serving(data_dir, "acme") as api:
        over_http = (
            api.get("/customers").json(),
            api.get("/customers/c-1", params={"reveal": "true"}).json(),
            http_failure(api.get("/customers/nobody")),
        )
        through_server = _run_all()
    here = _run_all()
    assert through_server == here == over_http
    page, profile, missing = here
    assert page["items"][0]["spend"] == "120.50" and profile["pii"]["email"] == "ming@example.cn"
    assert missing == (404, "not_found", "customer 'nobody' not found")
    reads = [
        (r["actor"].split(":")[0], r["details"]["via"])
        for r in export(engine, tenant.id)
        if r["action"] == "customer.pii_read"
    ]
    assert reads == [("local-cli", "local"), ("local-cli", "local"), ("cli", "cli")]
