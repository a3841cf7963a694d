"""``ecomops fx list|set|delete|import``: a tenant's FX table from the shell.

Rates live in the operational store, which the server does not own, so each command runs its use case
(``fx.service``, the same function as its API route) here, whether or not a server runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecomops.fx import service
from ecomops.fx.service import ImportResult, Rate, RateTable
from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.commandline import (
    ExportLang,
    ExportOutput,
    ListFormat,
    cli_errors,
    console,
    local_state,
    parse_export_format,
    print_json,
    save_tenant_list,
    tenant_info,
)

fx_app = typer.Typer(
    help="Dated exchange rates that reports convert other currencies with.", no_args_is_help=True
)

Tenant = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON")]


@fx_app.command("list")
def list_command(
    tenant: Tenant,
    json_out: Json = False,
    format: ListFormat = None,
    output: ExportOutput = None,
    lang: ExportLang = "en",
) -> None:
    """Every rate: 1 currency = rate × the shop's currency, from valid_from on."""
    fmt = parse_export_format(format, output)
    if fmt is not None:
        save_tenant_list(tenant, fmt, output, lang, route="fx-rates", export=service.export_rates)
        return
    with cli_errors(), local_state() as state:
        table = service.list_rates(state.engine, tenant_info(state, tenant))
    if json_out:
        print_json(json_form(table, RateTable))
        return
    out = Table("currency", "valid from", f"rate (in {table.currency})", "source", "updated by", "updated at")
    for r in table.rates:
        out.add_row(
            r.currency,
            r.valid_from.isoformat(),
            str(r.rate),
            r.source,
            r.updated_by,
            r.updated_at.isoformat(timespec="seconds"),
        )
    console.print(out)


@fx_app.command("set")
def set_command(
    tenant: Tenant,
    currency: Annotated[str, typer.Argument(help="ISO code converted from, e.g. GBP")],
    rate: Annotated[str, typer.Argument(help="Shop-currency units per 1 unit, e.g. 9.1234")],
    valid_from: Annotated[str, typer.Option("--from", help="First local day YYYY-MM-DD")],
    json_out: Json = False,
) -> None:
    """Set (or correct) one rate."""
    with cli_errors(), local_state() as state:
        out = service.set_rate(state.engine, tenant_info(state, tenant), currency, valid_from, rate)
    if json_out:
        print_json(json_form(out, Rate))
    else:
        console.print(f"1 {out.currency} = {out.rate} from {out.valid_from.isoformat()}")


@fx_app.command("delete")
def delete_command(
    tenant: Tenant,
    currency: Annotated[str, typer.Argument(help="ISO code")],
    valid_from: Annotated[str, typer.Option("--from", help="The rate's first day YYYY-MM-DD")],
) -> None:
    """Delete one rate (the currency's previous rate then applies from that day)."""
    with cli_errors(), local_state() as state:
        service.delete_rate(state.engine, tenant_info(state, tenant), currency, valid_from)
    console.print(f"deleted the {currency.upper()} rate from {valid_from}")


@fx_app.command("import")
def import_command(
    tenant: Tenant,
    path: Annotated[Path, typer.Argument(help="CSV with a header currency,valid_from,rate")],
    json_out: Json = False,
) -> None:
    """Import rates from a CSV file: every row or none (errors name the line and the field)."""
    with cli_errors():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"{path}: cannot read the file: {exc}", {"field": "path"}) from None
        with local_state() as state:
            result = service.import_csv(state.engine, tenant_info(state, tenant), text)
    if json_out:
        print_json(json_form(result, ImportResult))
    else:
        console.print(
            f"{result.rows} rate(s): {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
