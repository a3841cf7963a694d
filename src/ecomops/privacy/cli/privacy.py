"""``ecomops privacy …``: consents, data-subject export/erasure, retention.

Consents and the retention policy live in the operational store, so those commands work with or
without a server. Export, erasure and retention runs touch the tenant's warehouse: they go through
the running server's API (it owns the DuckDB file) and open the file themselves only when no server
runs, like ``ecomops demo seed``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.kernel.errors import ValidationFailed
from ecomops.platform import tenants
from ecomops.platform.commandline import (
    cli_errors,
    console,
    engine,
    err_console,
    local_state,
    print_json,
    settings,
)
from ecomops.platform.server import call_server, running_server
from ecomops.platform.warehouse import facts
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.privacy import compaction, retention
from ecomops.privacy import consents as consent_service
from ecomops.privacy import requests as privacy_requests

privacy_app = typer.Typer(
    help="Privacy: consents, data-subject export and erasure, retention.", no_args_is_help=True
)
consent_app = typer.Typer(help="Customers' consents per purpose (append-only history).", no_args_is_help=True)
retention_app = typer.Typer(
    help="How long raw events, dead letters and reject files are kept.", no_args_is_help=True
)
privacy_app.add_typer(consent_app, name="consent")
privacy_app.add_typer(retention_app, name="retention")

TenantOpt = Annotated[str, typer.Option(help="Tenant slug")]
CustomerOpt = Annotated[str | None, typer.Option("--customer", help="Pseudonymous customer id")]
EmailOpt = Annotated[str | None, typer.Option(help="Find the customer by email (vault blind index)")]
PhoneOpt = Annotated[str | None, typer.Option(help="Find the customer by phone (vault blind index)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


# -- consents ----------------------------------------------------------------------------------------


@consent_app.command("set")
def consent_set(
    tenant: TenantOpt,
    customer: Annotated[str, typer.Option("--customer", help="Pseudonymous customer id")],
    purpose: Annotated[str, typer.Option(help=f"One of {', '.join(consent_service.PURPOSES)}")],
    grant: Annotated[bool, typer.Option("--grant/--withdraw", help="Grant or withdraw")],
    source: Annotated[str, typer.Option(help="Where the decision was captured")] = "cli",
    json_out: JsonOpt = False,
) -> None:
    """Append a grant or withdrawal for one purpose (audited as consent.set)."""
    with cli_errors():
        info = tenants.get_tenant(engine(), tenant)
        record = consent_service.record_consent(engine(), info.id, customer, purpose, grant, source)
    if json_out:
        print_json(record.as_dict())
        return
    verb = "granted" if record.granted else "withdrawn"
    console.print(f"{record.purpose} {verb} for {record.customer_id} ({record.id}, source {record.source})")


@consent_app.command("list")
def consent_list(
    tenant: TenantOpt,
    customer: Annotated[str, typer.Option("--customer", help="Pseudonymous customer id")],
    json_out: JsonOpt = False,
) -> None:
    """A customer's consent history (oldest first), the current state and marketing eligibility."""
    with cli_errors():
        eng = engine()
        info = tenants.get_tenant(eng, tenant)
        history = consent_service.consent_history(eng, info.id, customer)
        marketing = {
            p: consent_service.marketing_allowed(eng, info.id, customer, p)
            for p in consent_service.MARKETING_PURPOSES
        }
    current = consent_service.latest(history)
    if json_out:
        print_json(
            {
                "customer_id": customer,
                "current": {p: r.as_dict() for p, r in current.items()},
                "history": [r.as_dict() for r in history],
                "marketing": {p: e.__dict__ for p, e in marketing.items()},
            }
        )
        return
    table = Table("recorded", "purpose", "decision", "source", "by", title=f"consents of {customer}")
    for r in history:
        table.add_row(
            r.recorded_at.isoformat()[:19],
            r.purpose,
            "granted" if r.granted else "withdrawn",
            r.source,
            r.recorded_by,
        )
    console.print(table)
    for purpose, e in marketing.items():
        console.print(
            f"{purpose}: {'[green]allowed[/green]' if e.allowed else '[red]not allowed[/red]'} – {e.reason}"
        )


# -- data-subject requests -----------------------------------------------------------------------------


def _run(kind: str, tenant: str, lookup: privacy_requests.Lookup) -> tuple[dict[str, Any], bytes | None]:
    """Run the request through the server, or on the files; returns the request and the export bundle."""
    lookup.kind()
    body = {"kind": kind, "customer_id": lookup.customer_id, "email": lookup.email, "phone": lookup.phone}
    server = running_server(settings())
    if server is not None:
        result: dict[str, Any] = call_server(
            server, "POST", f"/api/v1/t/{tenant}/privacy/requests", json_body=body
        )
        bundle = None
        if result["status"] == privacy_requests.DONE and kind == "export":
            data = call_server(server, "GET", f"/api/v1/t/{tenant}/privacy/requests/{result['id']}/download")
            bundle = json.dumps(data, ensure_ascii=False, indent=2).encode()
        result["via_server"] = True
        return result, bundle
    with local_state(writable=True) as state:
        eng = state.engine
        info = tenants.get_tenant(eng, tenant)
        warehouse = state.warehouses.get(info.id)

        def seal() -> int:
            return facts.load_pending(state, info, delete_buffers=True)

        seal()  # what a stopped server left buffered counts (its PII for the lookup, its rows)
        request = privacy_requests.submit(
            eng,
            warehouse,
            info,
            kind,
            lookup,
            seal_wal=seal if kind == "erasure" else None,
            compaction=privacy_requests.COMPACT_NOW,
        )
    out = request.as_dict()
    if kind == "erasure" and request.status == privacy_requests.DONE:
        before, after = compaction.compact(settings().warehouse_dir(), info.id)
        out["compacted_bytes"] = {"before": before, "after": after}
    bundle = None
    if request.status == privacy_requests.DONE and kind == "export":
        raw = privacy_requests.read_bundle(eng, info.id, request.id)
        bundle = json.dumps(json.loads(raw), ensure_ascii=False, indent=2).encode()
    out["via_server"] = False
    return out, bundle


def _write_private(path: Path, data: bytes) -> None:
    """Write the bundle readable by the owner only: it holds the customer's personal data in clear."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _report(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(result)
    elif result["status"] == privacy_requests.DONE:
        console.print(
            f"{result['kind']} {result['id']} of customer {result['subject']}: [green]done[/green]\n"
            + json.dumps(result["summary"], ensure_ascii=False, indent=2)
        )
    if result["status"] != privacy_requests.DONE:
        err_console.print(f"[red]{result['kind']} {result['id']} failed:[/red] {result['error']}")
        raise typer.Exit(1)


@privacy_app.command("export")
def export_command(
    tenant: TenantOpt,
    customer: CustomerOpt = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON bundle here (mode 0600); default stdout")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export everything about one customer (vault PII, consents, warehouse rows) as a JSON bundle."""
    with cli_errors():
        result, bundle = _run("export", tenant, privacy_requests.Lookup(customer, email, phone))
        if bundle is not None:
            if out is None:
                typer.echo(bundle.decode())
                return
            try:
                _write_private(out, bundle)
            except OSError as exc:
                raise ValidationFailed(f"cannot write {out}: {exc}", {"field": "out"}) from exc
            result["written_to"] = str(out)
    _report(result, json_out)


@privacy_app.command("erase")
def erase_command(
    tenant: TenantOpt,
    customer: CustomerOpt = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Erase one customer for good: PII, consents, marketing, warehouse links (see docs/privacy.md)."""
    lookup = privacy_requests.Lookup(customer, email, phone)
    with cli_errors():
        lookup.kind()
    if not yes and not typer.confirm(f"Erase this customer of {tenant}? This cannot be undone"):
        raise typer.Exit(1)
    with cli_errors():
        result, _ = _run("erasure", tenant, lookup)
    _report(result, json_out)


@privacy_app.command("requests")
def requests_command(
    tenant: TenantOpt,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Privacy requests of the tenant, newest first (counts only, never PII)."""
    with cli_errors():
        eng = engine()
        info = tenants.get_tenant(eng, tenant)
        items = [r.as_dict() for r in privacy_requests.list_requests(eng, info.id, limit=limit)]
    if json_out:
        print_json(items)
        return
    table = Table("id", "kind", "customer", "status", "by", "created", "bundle")
    for r in items:
        table.add_row(
            r["id"],
            r["kind"],
            r["subject"],
            r["status"],
            r["requested_by"],
            r["created_at"][:19],
            "yes" if r["bundle_available"] else "",
        )
    console.print(table)


@privacy_app.command("compact")
def compact_command(tenant: TenantOpt) -> None:
    """Rewrite the tenant's warehouse file so erased values leave no trace in its free space.

    Needs the server stopped (it has the file open); the server also does this at start-up for every
    tenant with an erasure since the last rewrite.
    """
    with cli_errors():
        server = running_server(settings())
        if server is not None:
            raise ValidationFailed(
                f"a server at {server.url} has the warehouse open; stop it (it compacts pending tenants "
                "when it starts again) or run this while no server runs",
                {"server": server.url},
            )
        info = tenants.get_tenant(engine(), tenant)
        before, after = compaction.compact(settings().warehouse_dir(), info.id)
    console.print(f"warehouse of {info.slug} rewritten: {before:,} -> {after:,} bytes")


# -- retention ------------------------------------------------------------------------------------------


def _days(text: str | None, field: str, current: int | None) -> int | None:
    """``None`` keeps the current value, ``off`` keeps data forever, else a number of days."""
    if text is None:
        return current
    if text.strip().lower() in ("off", "none", "forever"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationFailed(
            f"--{field.replace('_', '-')} must be a number of days or 'off', got {text!r}", {"field": field}
        ) from None


@retention_app.command("set")
def retention_set(
    tenant: TenantOpt,
    events_days: Annotated[str | None, typer.Option(help="Days to keep raw events, or 'off'")] = None,
    events_action: Annotated[str | None, typer.Option(help="drop or anonymise old events")] = None,
    dead_letters_days: Annotated[str | None, typer.Option(help="Days to keep dead letters, or 'off'")] = None,
    reject_files_days: Annotated[
        str | None, typer.Option(help="Days to keep import reject files, or 'off'")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change the tenant's retention policy (options not given keep their value; audited)."""
    with cli_errors():
        eng = engine()
        info = tenants.get_tenant(eng, tenant)
        now = retention.get_policy(eng, info.id)
        policy = retention.set_policy(
            eng,
            info.id,
            events_days=_days(events_days, "events_days", now.events_days),
            events_action=events_action or now.events_action,
            dead_letters_days=_days(dead_letters_days, "dead_letters_days", now.dead_letters_days),
            reject_files_days=_days(reject_files_days, "reject_files_days", now.reject_files_days),
        )
    _print_policy(info.slug, policy, json_out)


def _print_policy(slug: str, policy: retention.Policy, json_out: bool) -> None:
    if json_out:
        print_json(policy.as_dict())
        return

    def show(days: int | None) -> str:
        return "kept forever" if days is None else f"{days} days"

    console.print(f"retention policy of [bold]{slug}[/bold]")
    console.print(
        f"  raw events:    {show(policy.events_days)}"
        + (f", then {policy.events_action}" if policy.events_days else "")
    )
    console.print(f"  dead letters:  {show(policy.dead_letters_days)}")
    console.print(f"  reject files:  {show(policy.reject_files_days)}")
    if policy.last_run_at is not None:
        console.print(
            f"  last run {policy.last_run_at.isoformat()[:19]}: {json.dumps(policy.last_run_summary)}"
        )


@retention_app.command("show")
def retention_show(tenant: TenantOpt, json_out: JsonOpt = False) -> None:
    """The tenant's retention policy and its last run."""
    with cli_errors():
        eng = engine()
        info = tenants.get_tenant(eng, tenant)
        policy = retention.get_policy(eng, info.id)
    _print_policy(info.slug, policy, json_out)


@retention_app.command("run")
def retention_run(tenant: TenantOpt, json_out: JsonOpt = False) -> None:
    """Apply the policy now (through the server when one runs); prints the counts."""
    with cli_errors():
        server = running_server(settings())
        if server is not None:
            summary: dict[str, Any] = call_server(server, "POST", f"/api/v1/t/{tenant}/privacy/retention/run")
        else:
            eng = engine()
            info = tenants.get_tenant(eng, tenant)
            warehouse = open_warehouse(settings().warehouse_dir(), info.id)
            try:
                summary = retention.run_retention(eng, settings(), warehouse, info)
            finally:
                warehouse.close()
            if info.id in compaction.pending_tenants(settings().warehouse_dir()):
                before, after = compaction.compact(settings().warehouse_dir(), info.id)
                summary["compacted_bytes"] = {"before": before, "after": after}
    if json_out:
        print_json(summary)
        return
    console.print(json.dumps(summary, ensure_ascii=False, indent=2))
