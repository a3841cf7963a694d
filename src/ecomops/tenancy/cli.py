"""``ecomops tenant|source|apikey|module`` commands.

Tenants, sources, API keys and module switches live in the operational store only, which every
process may use at once: these commands run here, with or without a server, and call the same
``tenancy.service``/``platform.enablement`` functions as the administration API, so they raise the
same errors. The one warehouse step, creating a new tenant's file, is left to the server when one
runs (``here_or_server``): it owns the warehouse files and creates the file on first use.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from ecomops.kernel.errors import Conflict, ValidationFailed
from ecomops.platform import enablement
from ecomops.platform import tenants as tenant_registry
from ecomops.platform.commandline import (
    ExportLang,
    ExportOutput,
    ListFormat,
    cli_errors,
    console,
    engine,
    here_or_server,
    parse_export_format,
    print_json,
    save_tenant_list,
)
from ecomops.platform.roles import ROLES
from ecomops.platform.web.state import AppState
from ecomops.tenancy import service

tenant_app = typer.Typer(help="Create and list tenants (shops).", no_args_is_help=True)
source_app = typer.Typer(help="Event sources and their ingest write keys.", no_args_is_help=True)
apikey_app = typer.Typer(help="Management API keys (Bearer auth on /api/v1).", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    slug: str,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone for day boundaries")] = "UTC",
    currency: Annotated[str, typer.Option(help="Reporting currency (ISO 4217)")] = "USD",
    if_not_exists: Annotated[
        bool, typer.Option("--if-not-exists", help="Succeed without changes if the tenant already exists")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a tenant and its warehouse file."""
    existed = False
    with cli_errors():
        try:
            info = service.create_tenant(engine(), slug, name, timezone, currency)
        except Conflict:
            if not if_not_exists:
                raise
            # Scripts such as `make demo` re-run this; the existing tenant is kept exactly as it is.
            info = tenant_registry.get_tenant(engine(), slug)
            existed = True
        _ensure_warehouse_file(info.id)
    if json_out:
        print_json({**info.__dict__, "created": not existed})
    elif existed:
        console.print(
            f"tenant [bold]{info.slug}[/bold] already exists ({info.timezone}, {info.currency}); "
            "left unchanged"
        )
    else:
        console.print(f"created tenant [bold]{info.slug}[/bold] ({info.timezone}, {info.currency})")


def _ensure_warehouse_file(tenant_id: str) -> None:
    """Create the tenant's warehouse file unless a running server owns the warehouses.

    A running server holds DuckDB's write lock, so opening the file here would fail; the server
    creates the file itself the first time the tenant is used. Here, a writable open creates it.
    """
    here_or_server(
        remote=lambda _client: None, local=lambda state: _create_file(state, tenant_id), writable=True
    )


def _create_file(state: AppState, tenant_id: str) -> None:
    state.warehouses.get(tenant_id)


@tenant_app.command("list")
def tenant_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tenants."""
    with cli_errors():
        tenants = tenant_registry.list_tenants(engine())
    if json_out:
        print_json([t.__dict__ for t in tenants])
        return
    table = Table("slug", "name", "timezone", "currency", "created")
    for t in tenants:
        table.add_row(t.slug, t.name, t.timezone, t.currency, t.created_at.isoformat(timespec="seconds"))
    console.print(table)


@source_app.command("create")
def source_create(
    name: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    channel: Annotated[str, typer.Option(help=f"One of: {', '.join(service.CHANNELS)}")] = "web",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an event source and print its write key (shown only this once)."""
    with cli_errors():
        info, key = service.create_source(engine(), tenant, name, channel)
    if json_out:
        print_json({**info.__dict__, "write_key": key})
    else:
        console.print(f"source [bold]{info.name}[/bold] ({info.channel}) created. Write key (shown once):")
        console.print(key, highlight=False, soft_wrap=True)


@source_app.command("list")
def source_list(tenant: Annotated[str, typer.Option(help="Tenant slug")]) -> None:
    """List a tenant's sources (write keys are never shown again, only their prefix)."""
    with cli_errors():
        sources = service.list_sources(engine(), tenant)
    table = Table("id", "name", "channel", "write key prefix", "previous key works until")
    for s in sources:
        until = s.previous_key_expires_at.isoformat(timespec="minutes") if s.previous_key_expires_at else ""
        table.add_row(s.id, s.name, s.channel, s.write_key_prefix + "…", until)
    console.print(table)


@source_app.command("rotate")
def source_rotate(
    source: Annotated[str, typer.Argument(help="Source name or id")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    overlap_hours: Annotated[
        float, typer.Option(help="Hours the current key keeps working next to the new one (0: end it now)")
    ] = 24,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue a new write key for a source and print it (shown only this once); audited."""
    with cli_errors():
        info, key = service.rotate_source(engine(), tenant, source, overlap_hours)
    if json_out:
        print_json({**info.__dict__, "write_key": key})
        return
    until = info.previous_key_expires_at
    console.print(
        f"source [bold]{info.name}[/bold]: new write key (shown once); "
        + (
            f"the previous key works until {until.isoformat(timespec='minutes')}"
            if until
            else "the previous key no longer works"
        )
    )
    console.print(key, highlight=False, soft_wrap=True)


@source_app.command("revoke")
def source_revoke(
    source: Annotated[str, typer.Argument(help="Source name or id")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
) -> None:
    """End a source's write keys at once (events sent with them are refused with 401); audited."""
    with cli_errors():
        info = service.revoke_source(engine(), tenant, source)
    console.print(f"source [bold]{info.name}[/bold] revoked: its write keys no longer work")


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if not match:
        raise ValidationFailed(f"duration must look like 30d, 12h or 45m, got {text!r}", {"field": "expires"})
    n, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}")] = "analyst",
    name: Annotated[str, typer.Option(help="What the key is for")] = "cli",
    expires: Annotated[str | None, typer.Option(help="Lifetime such as 30d")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API key and print it (shown only this once)."""
    with cli_errors():
        info, key = service.create_api_key(
            engine(), tenant, role, name, parse_duration(expires) if expires else None
        )
    if json_out:
        print_json({**info.__dict__, "key": key})
    else:
        console.print(f"API key [bold]{info.name}[/bold] ({info.role}) created. Key (shown once):")
        console.print(key, highlight=False, soft_wrap=True)


@apikey_app.command("list")
def apikey_list(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    format: ListFormat = None,
    output: ExportOutput = None,
    lang: ExportLang = "en",
) -> None:
    """List a tenant's API keys (prefix only; revoked keys included, marked)."""
    fmt = parse_export_format(format, output)
    if fmt is not None:
        save_tenant_list(tenant, fmt, output, lang, route="keys", export=service.export_api_keys)
        return
    with cli_errors():
        keys = service.list_api_keys(engine(), tenant)
    if json_out:
        print_json([k.__dict__ for k in keys])
        return
    table = Table("id", "name", "role", "prefix", "created", "expires", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            k.role,
            k.key_prefix + "…",
            k.created_at.isoformat(timespec="seconds"),
            k.expires_at.isoformat(timespec="seconds") if k.expires_at else "",
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
) -> None:
    """Revoke an API key; it stops working on the next request."""
    with cli_errors():
        service.revoke_api_key(engine(), tenant, key_id)
    console.print(f"API key {key_id} revoked")


module_app = typer.Typer(help="Optional modules per shop: list, enable, disable.", no_args_is_help=True)
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug")]


def _print_modules(states: list[enablement.ModuleState]) -> None:
    table = Table("module", "title", "kind", "status")
    for m in states:
        status = "[green]on[/green]" if m.enabled else "[red]off[/red]"
        table.add_row(m.name, m.title, "optional" if m.optional else "core", status)
    console.print(table)


@module_app.command("list")
def module_list(tenant: TenantOption, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Installed modules and whether each is on for the shop."""
    with cli_errors():
        eng = engine()
        states = enablement.module_states(eng, tenant_registry.get_tenant(eng, tenant).id)
    if json_out:
        print_json([m.__dict__ for m in states])
    else:
        _print_modules(states)


def _switch(tenant: str, name: str, enabled: bool, json_out: bool) -> None:
    with cli_errors():
        eng = engine()
        changed = enablement.set_enabled(eng, tenant_registry.get_tenant(eng, tenant).id, name, enabled)
    if json_out:
        print_json(changed.__dict__)
    else:
        # A running server re-reads the choice within api_key_cache_seconds (docs/modules.md).
        console.print(f"module [bold]{name}[/bold] is {'on' if enabled else 'off'} for {tenant}")


@module_app.command("enable")
def module_enable(
    name: Annotated[str, typer.Argument(help="Module name (see `ecomops module list`)")],
    tenant: TenantOption,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Switch an optional module on for the shop (audited)."""
    _switch(tenant, name, True, json_out)


@module_app.command("disable")
def module_disable(
    name: Annotated[str, typer.Argument(help="Module name (see `ecomops module list`)")],
    tenant: TenantOption,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Switch an optional module off for the shop: routes answer 404, pages and jobs stop (audited)."""
    _switch(tenant, name, False, json_out)
