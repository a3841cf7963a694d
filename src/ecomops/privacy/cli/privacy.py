"""``ecomops privacy …``: consents, data-subject export/erasure, retention.

Consents, the request list and the retention policy live in the operational store, so those commands
run here, with or without a server. Export, erasure and retention runs touch the tenant's warehouse:
``here_or_server`` sends them to the running server's API (it owns the DuckDB file) or runs the same
``privacy.operations`` function here when no server runs, so both answer the same JSON and errors.
Without a server the file is rewritten at once afterwards (``privacy.compaction``), reported on stderr.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform import tenants
from ecomops.platform.client import ServerClient, tenant_path
from ecomops.platform.commandline import (
    cli_errors,
    console,
    engine,
    err_console,
    here_or_server,
    local_state,
    print_json,
    tenant_info,
)
from ecomops.platform.web.state import AppState
from ecomops.privacy import compaction, operations, retention
from ecomops.privacy import consents as consent_service
from ecomops.privacy import requests as privacy_requests
from ecomops.privacy.operations import PrivacyRequestView

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


def _run(kind: str, tenant: str, lookup: privacy_requests.Lookup) -> tuple[PrivacyRequestView, bytes | None]:
    """Run the request through the server, or here on the files; returns it and the export bundle."""
    lookup.kind()
    body = {"kind": kind, "customer_id": lookup.customer_id, "email": lookup.email, "phone": lookup.phone}

    def remote(client: ServerClient) -> tuple[PrivacyRequestView, bytes | None]:
        request = client.call(
            "POST", tenant_path(tenant, "privacy", "requests"), PrivacyRequestView, json=body
        )
        bundle = None
        if request.status == privacy_requests.DONE and kind == "export":
            bundle = client.raw("GET", tenant_path(tenant, "privacy", "requests", request.id, "download"))
        return request, bundle

    def local(state: AppState) -> tuple[PrivacyRequestView, bytes | None]:
        info = tenant_info(state, tenant)
        request = operations.submit_request(
            state, info, kind, lookup, compaction_at=privacy_requests.COMPACT_NOW
        )
        bundle = None
        if request.status == privacy_requests.DONE and kind == "export":
            bundle = privacy_requests.read_bundle(state.engine, info.id, request.id)
        _report_rewrite(operations.rewrite_now(state, info))
        return request, bundle

    request, bundle = here_or_server(remote=remote, local=local, writable=True)
    if bundle is not None:
        bundle = json.dumps(json.loads(bundle), ensure_ascii=False, indent=2).encode()
    return request, bundle


def _report_rewrite(sizes: tuple[int, int] | None) -> None:
    """Only a command without a server rewrites the file at once; say so on stderr (stdout is the
    API's JSON)."""
    if sizes is not None:
        err_console.print(f"[dim]warehouse rewritten: {sizes[0]:,} -> {sizes[1]:,} bytes[/dim]")


def _write_private(path: Path, data: bytes) -> None:
    """Write the bundle readable by the owner only: it holds the customer's personal data in clear."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _report(result: PrivacyRequestView, json_out: bool) -> None:
    if json_out:
        print_json(json_form(result, PrivacyRequestView))
    elif result.status == privacy_requests.DONE:
        console.print(
            f"{result.kind} {result.id} of customer {result.subject}: [green]done[/green]\n"
            + json.dumps(result.summary, ensure_ascii=False, indent=2)
        )
    if result.status != privacy_requests.DONE:
        err_console.print(f"[red]{result.kind} {result.id} failed:[/red] {result.error}")
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
            err_console.print(f"[dim]bundle written to {out}[/dim]")
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
    """Privacy requests of the tenant, newest first (counts only, never PII).

    Operational store only: runs here, with or without a server."""
    with cli_errors(), local_state() as state:
        items = operations.list_requests(state, tenant_info(state, tenant), limit=limit)
    if json_out:
        print_json(json_form(items, list[PrivacyRequestView]))
        return
    table = Table("id", "kind", "customer", "status", "by", "created", "bundle")
    for r in items:
        table.add_row(
            r.id,
            r.kind,
            r.subject,
            r.status,
            r.requested_by,
            r.created_at.isoformat()[:19],
            "yes" if r.bundle_available else "",
        )
    console.print(table)


@privacy_app.command("compact")
def compact_command(tenant: TenantOpt) -> None:
    """Rewrite the tenant's warehouse file so erased values leave no trace in its free space.

    Needs the server stopped (it has the file open); the server also does this at start-up for every
    tenant with an erasure since the last rewrite.
    """
    with cli_errors():
        before, after = here_or_server(remote=_refuse_compaction, local=lambda state: _compact(state, tenant))
    console.print(f"warehouse of {tenant} rewritten: {before:,} -> {after:,} bytes")


def _refuse_compaction(client: ServerClient) -> tuple[int, int]:
    url = client.server.url
    raise ValidationFailed(
        f"a server at {url} has the warehouse open; stop it (it compacts pending tenants "
        "when it starts again) or run this while no server runs",
        {"server": url},
    )


def _compact(state: AppState, tenant: str) -> tuple[int, int]:
    info = tenant_info(state, tenant)
    return compaction.compact(state.settings.warehouse_dir(), info.id)


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

    def local(state: AppState) -> dict[str, Any]:
        info = tenant_info(state, tenant)
        summary = operations.run_retention(state, info)
        _report_rewrite(operations.rewrite_now(state, info))
        return summary

    with cli_errors():
        summary = here_or_server(
            remote=lambda client: client.call(
                "POST", tenant_path(tenant, "privacy", "retention", "run"), dict[str, Any]
            ),
            local=local,
            writable=True,
        )
    if json_out:
        print_json(summary)
        return
    console.print(json.dumps(summary, ensure_ascii=False, indent=2))
