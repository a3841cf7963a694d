"""``ecomops metrics``: catalogue metrics for a tenant, through the server when one runs.

While ``ecomops serve`` runs it owns the tenant's DuckDB file, so the request goes to its
``GET /api/v1/t/{tenant}/metrics`` with the local control token; otherwise the file is opened
read-only here. Both paths run the same engine and print the same JSON.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

import typer
from rich.table import Table

from ecomops.analytics import engine
from ecomops.analytics.catalogue import BREAKDOWNS, METRICS, catalogue_payload, parse_ids
from ecomops.analytics.periods import Granularity
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform import tenants
from ecomops.platform.commandline import cli_errors, console, err_console, print_json, settings
from ecomops.platform.commandline import engine as store_engine
from ecomops.platform.server import call_server, running_server
from ecomops.platform.warehouse.connection import warehouse_path


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _parse_day(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date YYYY-MM-DD, got {text!r}", {"field": field}) from None


def metrics_via_server(query: engine.MetricsQuery, tenant: str) -> dict[str, Any] | None:
    """Ask the running server, or return None when no server owns the data dir."""
    server = running_server(settings())
    if server is None:
        return None
    params: dict[str, str] = {
        "ids": ",".join(query.ids) if not isinstance(query.ids, str) else query.ids,
        "granularity": query.granularity,
        "compare": "true" if query.compare else "false",
        "limit": str(query.limit),
    }
    for key, value in (
        ("from", query.first),
        ("to", query.last),
        ("breakdown", query.breakdown),
        ("currency", query.currency),
        ("timezone", query.timezone),
        ("source", query.source),
    ):
        if value is not None:
            params[key] = value.isoformat() if isinstance(value, date) else str(value)
    payload: dict[str, Any] = call_server(server, "GET", f"/api/v1/t/{tenant}/metrics?{urlencode(params)}")
    return payload


def metrics_local(query: engine.MetricsQuery, tenant: str) -> dict[str, Any]:
    info = tenants.get_tenant(store_engine(), tenant)
    path = warehouse_path(settings().warehouse_dir(), info.id)
    if not path.exists():
        raise NotFound(
            f"tenant {tenant!r} has no warehouse file yet; it is created by `ecomops tenant create` "
            "or when the server first loads data",
            {"path": str(path)},
        )
    return engine.compute_for_file(path, info, query)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _change(current: Any, before: Any) -> str:
    """Relative change for the totals table; blank when either side is missing or zero."""
    try:
        cur, old = float(current), float(before)
    except (TypeError, ValueError):
        return ""
    return "" if old == 0 else f"{(cur - old) / abs(old):+.1%}"


def render(payload: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(payload)
        return
    ids = [m["id"] for m in payload["metrics"]]
    has_breakdown = payload["breakdown"] is not None
    header = ["bucket", *(["breakdown"] if has_breakdown else []), *ids]
    rows = [
        [
            r["bucket"],
            *([r["breakdown_value"]] if has_breakdown else []),
            *(_cell(r["values"][i]) for i in ids),
        ]
        for r in payload["series"]
    ]
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    units = {m["id"]: m["unit"] for m in payload["metrics"]}

    def display(metric_id: str, value: Any) -> str:
        """Table cells: ratios rounded to 4 places (CSV and JSON keep full precision)."""
        if value is None:
            return ""
        return f"{value:.4f}" if units[metric_id] == "ratio" else str(value)

    title = (
        f"{payload['tenant']} {payload['from']} → {payload['to']} by {payload['granularity']} "
        f"({payload['currency']}, {payload['timezone']})"
    )
    table = Table(*header, title=title)
    for r in payload["series"]:
        cells = [r["bucket"], *([r["breakdown_value"]] if has_breakdown else [])]
        cells += [display(i, r["values"][i]) or "[dim]–[/dim]" for i in ids]
        table.add_row(*cells)
    console.print(table)
    compare = payload["periods"]["previous_period"] is not None
    columns = ["breakdown" if has_breakdown else "", "metric", "window"]
    columns += ["previous period", "Δ", "last year", "Δ"] if compare else []
    totals = Table(*columns)
    for t in payload["totals"]:
        for metric_id in ids:
            cur = t["values"][metric_id]
            row = [_cell(t["breakdown_value"]) or "all", metric_id, display(metric_id, cur)]
            if compare:
                prev, ly = t["previous_period"][metric_id], t["last_year"][metric_id]
                row += [
                    display(metric_id, prev),
                    _change(cur, prev),
                    display(metric_id, ly),
                    _change(cur, ly),
                ]
            totals.add_row(*row)
    console.print(totals)
    for m in payload["metrics"]:
        if not m["available"]:
            err_console.print(f"[yellow]{m['id']}[/yellow] is null: {m['reason']}")
    for currency, n in payload["other_currencies"].items():
        err_console.print(
            f"[yellow]note:[/yellow] {n} order(s) in {currency} left out (use --currency {currency})"
        )
    shown = payload["breakdown"]
    if shown and shown["values_shown"] < shown["values_total"]:
        err_console.print(
            f"[yellow]note:[/yellow] top {shown['values_shown']} of {shown['values_total']} "
            f"{shown['id']} values shown (use --limit)"
        )


def _print_catalogue(fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(catalogue_payload())
        return
    table = Table("id", "name", "名称", "unit", "formula")
    for m in METRICS:
        table.add_row(m.id, m.name_en, m.name_zh, m.unit.value, m.formula)
    console.print(table)
    console.print(f"breakdowns: {', '.join(BREAKDOWNS)}; details: docs/metrics.md")


def metrics_command(
    ids: Annotated[list[str] | None, typer.Argument(help="Metric ids, e.g. gmv aov (see --list)")] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant slug")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First local day YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last local day YYYY-MM-DD (inclusive)")] = None,
    granularity: Annotated[Granularity, typer.Option(help="Bucket size")] = Granularity.day,
    breakdown: Annotated[str | None, typer.Option(help=f"One of: {', '.join(BREAKDOWNS)}")] = None,
    compare: Annotated[bool, typer.Option(help="Previous-period and last-year values")] = True,
    limit: Annotated[
        int, typer.Option(min=1, max=engine.MAX_LIMIT, help="Most breakdown values")
    ] = engine.DEFAULT_LIMIT,
    currency: Annotated[str | None, typer.Option(help="Reporting currency (default: tenant's)")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone for buckets (default: tenant's)")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format")] = OutputFormat.table,
    list_: Annotated[bool, typer.Option("--list", help="Print the metric catalogue and exit")] = False,
    source: Annotated[
        str, typer.Option(help="auto (rollups when they can answer, else raw facts), rollups or facts")
    ] = "auto",
) -> None:
    """Compute catalogue metrics (GMV, AOV, conversion, ROAS…) per day/week/month/hour, by a breakdown."""
    if list_:
        _print_catalogue(fmt)
        return
    with cli_errors():
        if tenant is None:
            raise ValidationFailed("--tenant is required", {"field": "tenant"})
        if not ids:
            raise ValidationFailed(
                "name at least one metric id (see `ecomops metrics --list`)", {"field": "ids"}
            )
        query = engine.MetricsQuery(
            ids=ids,
            first=_parse_day(from_, "--from"),
            last=_parse_day(to, "--to"),
            granularity=granularity.value,
            breakdown=breakdown,
            compare=compare,
            limit=limit,
            currency=currency,
            timezone=timezone,
            source=source,
        )
        parse_ids(ids)  # a typo fails before any server round trip
        payload = metrics_via_server(query, tenant) or metrics_local(query, tenant)
    render(payload, fmt)
