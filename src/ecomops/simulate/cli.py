"""``ecomops demo seed``: through the running server when there is one (it owns the warehouse file),
otherwise directly on the tenant's warehouse (``here_or_server``); both paths run
``simulate.service.seed`` and answer the same ``SeedResult`` (``--json`` prints the API's JSON)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import ServerClient, tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info
from ecomops.simulate import coverage, service
from ecomops.simulate import params as p
from ecomops.simulate.manifest import write_manifest
from ecomops.simulate.service import SeedResult
from ecomops.simulate.trickle_cli import shop_coverage, trickle_command

demo_app = typer.Typer(help="Demo shop simulator.", no_args_is_help=True)

#: Seeding the default size takes seconds; generous so slow machines are not cut off.
SERVER_TIMEOUT_S = 900.0


def parse_end_date(text: str | None) -> date:
    if text is None:
        return p.DEFAULT_END_DATE
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"--end-date must be YYYY-MM-DD, got {text!r}", {"field": "end_date"}) from exc


def seed_shop(tenant: str, params: p.SeedParams, manifest: Path | None) -> SeedResult:
    """Seed through the server's API, or here; a manifest asked for is written here on both paths."""

    def remote(client: ServerClient) -> SeedResult:
        body = {
            "days": params.days,
            "customers": params.customers,
            "seed": params.seed,
            "end_date": params.end_date.isoformat(),
        }
        result = client.call(
            "POST", tenant_path(tenant, "demo", "seed"), SeedResult, json=body, timeout=SERVER_TIMEOUT_S
        )
        if manifest is not None:
            write_manifest(manifest, result.manifest)
        return result

    return here_or_server(
        remote=remote,
        local=lambda state: service.seed(state, tenant_info(state, tenant), params, manifest),
        writable=True,
    )


@demo_app.command("seed")
def seed_command(
    tenant: Annotated[
        str, typer.Option(help="Tenant slug (create it first with `ecomops tenant create`)")
    ] = "demo",
    days: Annotated[int, typer.Option(help="Days to simulate, ending at --end-date")] = p.DEFAULT_DAYS,
    customers: Annotated[int, typer.Option(help="Customers (exact count)")] = p.DEFAULT_CUSTOMERS,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and options, same data")] = p.DEFAULT_SEED,
    end_date: Annotated[
        str | None, typer.Option(help="Last simulated day, YYYY-MM-DD (default 2026-11-30)")
    ] = None,
    manifest: Annotated[Path | None, typer.Option(help="Where to write the ground-truth manifest")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    if_missing: Annotated[
        bool,
        typer.Option(
            "--if-missing",
            help="Keep the tenant's demo shop when it has these customers and its gap to --end-date is "
            f"at most {coverage.MAX_CATCH_UP_DAYS} days (`demo trickle` fills it); seed otherwise",
        ),
    ] = False,
) -> None:
    """Fill a tenant with a deterministic demo shop; re-seeding replaces the previous demo data."""
    with cli_errors():
        params = p.SeedParams(days, customers, seed, parse_end_date(end_date)).validated()
        if if_missing:
            decision = coverage.decide(shop_coverage(tenant), params)
            if json_out and decision.action == "reuse":
                print_json(json_form(decision, coverage.SeedDecision))
            elif not json_out:
                console.print(f"demo shop: {decision.action}: {decision.reason}", highlight=False)
            if decision.action == "reuse":
                return
        result = seed_shop(tenant, params, manifest)
    if json_out:
        print_json(json_form(result, SeedResult))
        return
    table = Table("table", "rows", title=f"demo shop seeded into {result.tenant}")
    for name, rows in result.row_counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    t = result.timings
    console.print(
        f"generated {result.events_per_second:,.0f} events/s; total {t['total_s']:.1f} s "
        f"(warehouse write {t['warehouse_write_s']:.1f} s)"
    )
    console.print(f"manifest: {manifest or result.manifest_path}")


demo_app.command("trickle")(trickle_command)
