"""``ecomops alerts list|create|delete|events|run``: manage a tenant's alert rules from the shell.

Rules and firings live in the operational store, so list/create/delete/events work with or without a
server. ``run`` reads the warehouse: with a server running it asks the server (which owns the file and
fires through the same code as its schedule); otherwise it opens the file read-only here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.alerts import service
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.commandline import cli_errors, console, engine, err_console, print_json, settings
from ecomops.platform.server import call_server, running_server
from ecomops.platform.tenants import get_tenant
from ecomops.platform.warehouse.connection import connect, warehouse_path

alerts_app = typer.Typer(help="Alert rules on metrics and stock, with signed webhooks.", no_args_is_help=True)

Tenant = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON")]


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


def _rules_table(rules: list[dict[str, Any]]) -> Table:
    table = Table("id", "name", "rule", "enabled", "webhook", "last status", "last fired")
    for r in rules:
        table.add_row(
            r["id"],
            r["name"],
            service.describe(r),
            "yes" if r["enabled"] else "no",
            r["webhook_url"] or "–",
            r["last_status"] or "–",
            r["last_fired_at"].isoformat(timespec="minutes") if r["last_fired_at"] else "–",
        )
    return table


@alerts_app.command("list")
def list_command(tenant: Tenant, json_out: Json = False) -> None:
    """The tenant's alert rules."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        rules = service.list_rules(engine(), info.id)
    if json_out:
        print_json([{**r, "description": service.describe(r)} for r in rules])
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
    with cli_errors():
        info = get_tenant(engine(), tenant)
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
        rule, secret = service.create_rule(engine(), settings(), info.id, spec)
    if json_out:
        print_json({**rule, "description": service.describe(rule), "webhook_secret": secret})
        return
    console.print(f"created alert rule {rule['id']} [bold]{rule['name']}[/bold]: {service.describe(rule)}")
    if secret:
        console.print(f"webhook signing secret (shown once): [bold]{secret}[/bold]")


@alerts_app.command("delete")
def delete_command(tenant: Tenant, rule: Annotated[str, typer.Argument(help="Rule id or name")]) -> None:
    """Delete a rule and its firings."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        found = service.find_rule(engine(), info.id, rule)
        service.delete_rule(engine(), info.id, found["id"])
    console.print(f"deleted alert rule {found['id']} ({found['name']})")


@alerts_app.command("events")
def events_command(
    tenant: Tenant,
    rule: Annotated[str | None, typer.Option(help="Only this rule (id or name)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=service.MAX_EVENTS)] = 20,
    json_out: Json = False,
) -> None:
    """Recent firings and test deliveries, newest first."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        rule_id = service.find_rule(engine(), info.id, rule)["id"] if rule else None
        events = service.list_events(engine(), info.id, rule_id, limit)
    if json_out:
        print_json(events)
        return
    table = Table("fired at", "rule", "kind", "period", "message", "delivery", "attempts")
    for e in events:
        table.add_row(
            e["fired_at"].isoformat(timespec="seconds"),
            e["rule_id"],
            e["kind"],
            e["period"],
            e["message"],
            e["status"],
            str(e["attempts"]),
        )
    console.print(table)


def run_local(slug: str, rule_ids: list[str] | None) -> list[dict[str, Any]]:
    """Evaluate against the warehouse file opened read-only (no server owns it)."""
    info = get_tenant(engine(), slug)
    path = warehouse_path(settings().warehouse_dir(), info.id)
    if not path.exists():
        raise NotFound(f"tenant {slug!r} has no warehouse file yet at {path}", {"path": str(path)})
    con = connect(path, read_only=True)
    try:
        return [e.as_dict() for e in service.run_tenant(engine(), settings(), con, info, rule_ids=rule_ids)]
    finally:
        con.close()


@alerts_app.command("run")
def run_command(
    tenant: Tenant,
    rule: Annotated[list[str] | None, typer.Option(help="Only this rule id or name (repeatable)")] = None,
    json_out: Json = False,
) -> None:
    """Evaluate the tenant's enabled rules now (or the given ones): fire and deliver what triggers."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        rule_ids = [service.find_rule(engine(), info.id, r)["id"] for r in rule] if rule else None
        server = running_server(settings())
        if server is not None:
            results: list[dict[str, Any]] = call_server(
                server,
                "POST",
                f"/api/v1/t/{info.slug}/alerts/run",
                json_body={"rule_ids": rule_ids},
                timeout=300,
            )
        else:
            results = run_local(info.slug, rule_ids)
    if json_out:
        print_json(results)
        return
    if not results:
        err_console.print(f"no enabled alert rules in {info.slug}")
    for r in results:
        line = f"{r['rule_id']} {r['status']:<13} {r['period']}  {r['message']}"
        console.print(line + (f"  [delivery: {r['delivery']}]" if r["delivery"] else ""), highlight=False)
