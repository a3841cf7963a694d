"""``ecomops alerts list|create|delete|events|run``: manage a tenant's alert rules from the shell.

Each command runs the use case its API route runs (``alerts.service``, ``alerts.scheduler.run_now``)
and prints its typed result (``--json``: the API's JSON). Rules and firings live in the operational
store, which the server does not own, so list/create/delete/events run here whether or not a server
runs. ``run`` reads the warehouse: through ``POST …/alerts/run`` while a server owns the file (it fires
through the same code as its schedule), otherwise here on the file opened read-only.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.table import Table

from ecomops.alerts import scheduler, service
from ecomops.alerts.results import EvaluationResult, Rule, RuleEvent, RuleWithSecret
from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import (
    cli_errors,
    console,
    err_console,
    here_or_server,
    local_state,
    print_json,
    tenant_info,
)

alerts_app = typer.Typer(help="Alert rules on metrics and stock, with signed webhooks.", no_args_is_help=True)

Tenant = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON")]
#: The module's name: a tenant that switched it off is refused here as its API routes refuse it.
MODULE = "alerts"
#: Evaluating many rules on a large shop, and delivering their webhooks, takes a while.
RUN_TIMEOUT_S = 300.0


def parse_filter(text: str | None) -> tuple[str | None, str | None]:
    """``channel=tmall`` → (channel, tmall)."""
    if text is None:
        return None, None
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValidationFailed(
            f"--filter must look like breakdown=value (channel=tmall), got {text!r}", {"field": "filter"}
        )
    return name.strip(), value.strip()


def _rules_table(rules: list[Rule]) -> Table:
    table = Table("id", "name", "rule", "enabled", "webhook", "last status", "last fired")
    for r in rules:
        table.add_row(
            r.id,
            r.name,
            r.description,
            "yes" if r.enabled else "no",
            r.webhook_url or "–",
            r.last_status or "–",
            r.last_fired_at.isoformat(timespec="minutes") if r.last_fired_at else "–",
        )
    return table


@alerts_app.command("list")
def list_command(tenant: Tenant, json_out: Json = False) -> None:
    """The tenant's alert rules."""
    with cli_errors(), local_state() as state:
        info = tenant_info(state, tenant, MODULE)
        rules = service.list_rules(state.engine, info.id)
    if json_out:
        print_json(json_form(rules, list[Rule]))
    elif not rules:
        console.print(f"no alert rules in {info.slug}")
    else:
        console.print(_rules_table(rules))


@alerts_app.command("create")
def create_command(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="Unique name of the rule")],
    threshold: Annotated[str, typer.Option(help="Value (above/below), percent (drop/rise) or days (stock)")],
    kind: Annotated[str, typer.Option(help="metric or stock")] = "metric",
    metric: Annotated[str | None, typer.Option(help="Catalogue metric id (ecomops metrics --list)")] = None,
    window: Annotated[str, typer.Option(help="hour or day: the last complete one is evaluated")] = "day",
    condition: Annotated[str, typer.Option(help="above, below, drop or rise")] = "below",
    compare_to: Annotated[
        str | None, typer.Option(help="For drop/rise: previous, last_week or last_year")
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="breakdown=value, e.g. channel=tmall (stock: category=… or product=…)"),
    ] = None,
    volume_metric: Annotated[
        str | None, typer.Option(help="Count metric for --min-volume (default orders)")
    ] = None,
    min_volume: Annotated[int, typer.Option(min=0, help="Skip periods with less volume than this")] = 0,
    cooldown: Annotated[int, typer.Option(min=0, help="Minutes after a firing before the next")] = 60,
    webhook_url: Annotated[str | None, typer.Option(help="POST signed JSON here on each firing")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off")] = False,
    json_out: Json = False,
) -> None:
    """Create a rule; with --webhook-url the signing secret is printed once."""
    with cli_errors(), local_state() as state:
        info = tenant_info(state, tenant, MODULE)
        try:
            value = Decimal(threshold)
        except InvalidOperation:
            raise ValidationFailed(
                f"--threshold must be a number, got {threshold!r}", {"field": "threshold"}
            ) from None
        breakdown, breakdown_value = parse_filter(filter_)
        spec = service.RuleSpec(
            name=name,
            kind=kind,
            metric=metric,
            breakdown=breakdown,
            breakdown_value=breakdown_value,
            window=window,
            condition=condition,
            compare_to=compare_to,
            threshold=value,
            volume_metric=volume_metric,
            min_volume=min_volume,
            cooldown_minutes=cooldown,
            enabled=not disabled,
            webhook_url=webhook_url,
        )
        rule = service.create_rule(state.engine, state.settings, info.id, spec)
    if json_out:
        print_json(json_form(rule, RuleWithSecret))
        return
    console.print(f"created alert rule {rule.id} [bold]{rule.name}[/bold]: {rule.description}")
    if rule.webhook_secret:
        console.print(f"webhook signing secret (shown once): [bold]{rule.webhook_secret}[/bold]")


@alerts_app.command("delete")
def delete_command(tenant: Tenant, rule: Annotated[str, typer.Argument(help="Rule id or name")]) -> None:
    """Delete a rule and its firings."""
    with cli_errors(), local_state() as state:
        info = tenant_info(state, tenant, MODULE)
        found = service.find_rule(state.engine, info.id, rule)
        service.delete_rule(state.engine, info.id, found.id)
    console.print(f"deleted alert rule {found.id} ({found.name})")


@alerts_app.command("events")
def events_command(
    tenant: Tenant,
    rule: Annotated[str | None, typer.Option(help="Only this rule (id or name)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_EVENTS)] = 20,
    json_out: Json = False,
) -> None:
    """Recent firings and test deliveries, newest first."""
    with cli_errors(), local_state() as state:
        info = tenant_info(state, tenant, MODULE)
        rule_id = service.find_rule(state.engine, info.id, rule).id if rule else None
        events = service.list_events(state.engine, info.id, rule_id, limit)
    if json_out:
        print_json(json_form(events, list[RuleEvent]))
        return
    table = Table("fired at", "rule", "kind", "period", "message", "delivery", "attempts")
    for e in events:
        table.add_row(
            e.fired_at.isoformat(timespec="seconds"),
            e.rule_id,
            e.kind,
            e.period,
            e.message,
            e.status,
            str(e.attempts),
        )
    console.print(table)


def _rule_ids(tenant: str, rules: list[str] | None) -> list[str] | None:
    """``--rule`` ids or names as ids (names are the CLI's convenience; the API takes ids)."""
    if not rules:
        return None
    with local_state() as state:
        info = tenant_info(state, tenant, MODULE)
        return [service.find_rule(state.engine, info.id, r).id for r in rules]


@alerts_app.command("run")
def run_command(
    tenant: Tenant,
    rule: Annotated[list[str] | None, typer.Option(help="Only this rule id or name (repeatable)")] = None,
    json_out: Json = False,
) -> None:
    """Evaluate the tenant's enabled rules now (or the given ones): fire and deliver what triggers."""
    with cli_errors():
        rule_ids = _rule_ids(tenant, rule)
        results = here_or_server(
            remote=lambda client: client.call(
                "POST",
                tenant_path(tenant, "alerts", "run"),
                list[EvaluationResult],
                json={"rule_ids": rule_ids},
                timeout=RUN_TIMEOUT_S,
            ),
            local=lambda state: scheduler.run_now(state, tenant_info(state, tenant, MODULE), rule_ids),
        )
    if json_out:
        print_json(json_form(results, list[EvaluationResult]))
        return
    if not results:
        err_console.print(f"no enabled alert rules in {tenant}")
    for r in results:
        line = f"{r.rule_id} {r.status:<13} {r.period}  {r.message}"
        console.print(line + (f"  [delivery: {r.delivery}]" if r.delivery else ""), highlight=False)
