"""``ecomops metrics``: catalogue metrics for a tenant, through the server when one runs.

One path: the command runs ``analytics.service.get_metrics``, the function behind
``GET /api/v1/t/{tenant}/metrics`` — through that route when ``ecomops serve`` owns the tenant's DuckDB
file, else here on the file opened read-only — and prints the typed answer (``--format json`` is the
API's JSON). ``--list`` prints the catalogue, which needs neither a warehouse nor a server.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from ecomops.analytics import engine, service
from ecomops.analytics.catalogue import BREAKDOWNS, METRICS
from ecomops.analytics.periods import Granularity
from ecomops.analytics.results import Catalogue, Comparison, MetricsResult, MetricValue
from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import (
    cli_errors,
    console,
    err_console,
    here_or_server,
    print_json,
    tenant_info,
)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def parse_day(text: str | None, field: str) -> date | None:
    """A ``--from``/``--to`` option as a date; a 422 naming the option otherwise."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date YYYY-MM-DD, got {text!r}", {"field": field}) from None


def fetch(tenant: str, query: engine.MetricsQuery) -> MetricsResult:
    """``get_metrics`` through the running server, or here when none runs (validated first either way,
    so a bad request gets the service's message on both paths)."""
    engine.check(query)
    return here_or_server(
        remote=lambda client: client.call(
            "GET",
            tenant_path(tenant, "metrics"),
            MetricsResult,
            params=query.params(),
            timeout=engine.TIMEOUT_SECONDS + 30,
        ),
        local=lambda state: service.get_metrics(state, tenant_info(state, tenant), query),
    )


def _cell(value: MetricValue | str) -> str:
    return "" if value is None else str(value)


def _change(comparison: Comparison | None) -> str:
    """Relative change for the totals table; blank without a base, "n/c" when not comparable (the reasons
    are printed under the table)."""
    if comparison is None or comparison.change is None:
        return ""
    return f"{comparison.change:+.1%}" if comparison.comparable else "n/c"


def render(answer: MetricsResult, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(json_form(answer, MetricsResult))
        return
    ids = [m.id for m in answer.metrics]
    has_breakdown = answer.breakdown is not None
    header = ["bucket", *(["breakdown"] if has_breakdown else []), *ids]
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(
            [
                r.bucket,
                *([_cell(r.breakdown_value)] if has_breakdown else []),
                *(_cell(r.values[i]) for i in ids),
            ]
            for r in answer.series
        )
        return
    units = {m.id: m.unit for m in answer.metrics}

    def display(metric_id: str, value: MetricValue) -> str:
        """Table cells: ratios rounded to 4 places (CSV and JSON keep full precision)."""
        if value is None:
            return ""
        return f"{value:.4f}" if units[metric_id] == "ratio" else str(value)

    title = (
        f"{answer.tenant} {answer.first.isoformat()} → {answer.last.isoformat()} by {answer.granularity} "
        f"({answer.currency}, {answer.timezone})"
    )
    table = Table(*header, title=title)
    for r in answer.series:
        cells = [r.bucket, *([_cell(r.breakdown_value)] if has_breakdown else [])]
        cells += [display(i, r.values[i]) or "[dim]–[/dim]" for i in ids]
        table.add_row(*cells)
    console.print(table)
    columns = ["breakdown" if has_breakdown else "", "metric", "window"]
    compare = answer.periods.previous_period is not None
    columns += ["previous period", "Δ", "last year", "Δ"] if compare else []
    totals = Table(*columns)
    reasons: set[str] = set()
    for t in answer.totals:
        for metric_id in ids:
            cur = t.values[metric_id]
            row = [_cell(t.breakdown_value) or "all", metric_id, display(metric_id, cur)]
            if t.previous_period is not None and t.last_year is not None:
                prev, ly = t.previous_period[metric_id], t.last_year[metric_id]
                vs_prev = t.previous_period_change[metric_id] if t.previous_period_change else None
                vs_ly = t.last_year_change[metric_id] if t.last_year_change else None
                row += [display(metric_id, prev), _change(vs_prev), display(metric_id, ly), _change(vs_ly)]
                reasons.update(c.reason for c in (vs_prev, vs_ly) if c and c.change is not None and c.reason)
            totals.add_row(*row)
    console.print(totals)
    for reason in sorted(reasons):
        err_console.print(f"[yellow]n/c[/yellow] (not comparable): {reason}")
    for m in answer.metrics:
        if not m.available:
            err_console.print(f"[yellow]{m.id}[/yellow] is null: {m.reason}")
    for currency, n in answer.other_currencies.items():
        err_console.print(
            f"[yellow]note:[/yellow] {n} order(s) in {currency} left out: no exchange rate applies "
            f"(add rates with `ecomops fx set|import`, or report in --currency {currency})"
        )
    for currency, n in answer.converted_currencies.items():
        err_console.print(f"[dim]{n} order(s) in {currency} converted with the shop's exchange rates[/dim]")
    shown = answer.breakdown
    if shown and shown.values_shown < shown.values_total:
        err_console.print(
            f"[yellow]note:[/yellow] top {shown.values_shown} of {shown.values_total} "
            f"{shown.id} values shown (use --limit)"
        )


def _print_catalogue(fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(json_form(service.catalogue(), Catalogue))
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
            first=parse_day(from_, "--from"),
            last=parse_day(to, "--to"),
            granularity=granularity.value,
            breakdown=breakdown,
            compare=compare,
            limit=limit,
            currency=currency,
            timezone=timezone,
            source=source,
        )
        answer = fetch(tenant, query)
    render(answer, fmt)
