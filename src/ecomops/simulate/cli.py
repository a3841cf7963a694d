"""``ecomops demo seed``: through the running server when there is one (it owns the warehouse file),
otherwise directly on the tenant's warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from ecomops.kernel.errors import EcomopsError, ValidationFailed
from ecomops.platform.commandline import cli_errors, console, engine, print_json, settings
from ecomops.platform.server import ServerInfo, running_server
from ecomops.platform.tenants import get_tenant
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.simulate import params as p
from ecomops.simulate.manifest import write_manifest
from ecomops.simulate.service import default_manifest_path, seed_demo

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


def seed_via_server(server: ServerInfo, tenant: str, params: p.SeedParams) -> dict[str, Any]:
    body = {
        "days": params.days,
        "customers": params.customers,
        "seed": params.seed,
        "end_date": params.end_date.isoformat(),
    }
    try:
        response = httpx.post(
            f"{server.url}/api/v1/t/{tenant}/demo/seed",
            json=body,
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=SERVER_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise EcomopsError(
            f"the server at {server.url} did not answer: {exc}", code="server_unreachable"
        ) from exc
    data: dict[str, Any] = response.json()
    if response.status_code != 200:
        err = data.get("error", {})
        raise EcomopsError(
            str(err.get("message", response.text)),
            err.get("details"),
            code=str(err.get("code", "server_error")),
        )
    return data


def seed_locally(tenant: str, params: p.SeedParams, manifest: Path | None) -> dict[str, Any]:
    eng = engine()
    info = get_tenant(eng, tenant)
    cfg = settings()
    warehouse = open_warehouse(cfg.warehouse_dir(), info.id)
    try:
        result = seed_demo(eng, warehouse, info, params, manifest or default_manifest_path(cfg, info.slug))
    finally:
        warehouse.close()
    return result.to_dict()


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
) -> None:
    """Fill a tenant with a deterministic demo shop; re-seeding replaces the previous demo data."""
    with cli_errors():
        params = p.SeedParams(days, customers, seed, parse_end_date(end_date)).validated()
        server = running_server(settings())
        if server is not None:
            result = seed_via_server(server, tenant, params)
            if manifest is not None:
                write_manifest(manifest, result["manifest"])
                result["manifest_path"] = str(manifest)
        else:
            result = seed_locally(tenant, params, manifest)
    result.pop("manifest", None)
    result["via_server"] = server is not None
    if json_out:
        print_json(result)
        return
    table = Table("table", "rows", title=f"demo shop seeded into {result['tenant']}")
    for name, rows in result["row_counts"].items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    t = result["timings"]
    console.print(
        f"generated {result['events_per_second']:,.0f} events/s; total {t['total_s']:.1f} s "
        f"(warehouse write {t['warehouse_write_s']:.1f} s)"
    )
    console.print(f"manifest: {result['manifest_path']}")
