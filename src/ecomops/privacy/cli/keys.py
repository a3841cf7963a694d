"""``ecomops keys status|rotate``: inspect and rotate the envelope-encryption keys.

Keys live in the operational store (wrapped) and the master key in the environment or the data dir;
no warehouse is involved, so these commands work the same with or without a running server. A
running server notices a new data-key version within ``keyring.CURRENT_VERSION_TTL`` seconds and a
replaced ``master.key`` on its next key load; an ``ECOMOPS_MASTER_KEY`` change needs a restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.commandline import cli_errors, console, engine, print_json, settings
from ecomops.platform.crypto import keyring
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.tenants import get_tenant, list_tenants
from ecomops.privacy import rotation, vault

keys_app = typer.Typer(help="Envelope-encryption keys: status and rotation.", no_args_is_help=True)


@keys_app.command("rotate")
def rotate_command(
    tenant: Annotated[str | None, typer.Option(help="Tenant slug: add a new data-key version")] = None,
    reencrypt: Annotated[
        bool, typer.Option("--reencrypt", help="With --tenant: rewrite vault rows under the new version")
    ] = False,
    master: Annotated[
        bool, typer.Option("--master", help="Re-wrap all keys under a newly generated master key file")
    ] = False,
    new_master_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Re-wrap all keys under the master key in this file (32 raw bytes or a text secret)"
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rotate a tenant's data key (--tenant) or the master key (--master / --new-master-key-file)."""
    with cli_errors():
        master_rotation = master or new_master_key_file is not None
        if (tenant is None) == (not master_rotation) or (master and new_master_key_file is not None):
            raise ValidationFailed(
                "choose exactly one of --tenant SLUG, --master, --new-master-key-file PATH",
                {"fields": ["tenant", "master", "new_master_key_file"]},
            )
        if reencrypt and tenant is None:
            raise ValidationFailed("--reencrypt goes with --tenant", {"field": "reencrypt"})
        if tenant is not None:
            eng = engine()
            out = rotation.rotate_tenant_key(eng, get_tenant(eng, tenant), reencrypt)
        else:
            out = rotation.rotate_master_key(engine(), settings(), new_master_key_file)
    if json_out:
        print_json(out)
        return
    if tenant is not None:
        console.print(
            f"tenant [bold]{out['tenant']}[/bold]: data key version {out['new_version']} takes new writes"
            + (f"; {out['reencrypted_rows']} vault row(s) re-encrypted" if reencrypt else "")
        )
        return
    console.print(
        f"re-wrapped {out['tenant_keys']} tenant key(s) and {out['system_keys']} system key(s) under master "
        f"{out['new_kek_id']}"
    )
    if out["mode"] == "env":
        console.print(
            "[yellow]ECOMOPS_MASTER_KEY is in use:[/yellow] set it to the new secret and restart every "
            "ecomops process now (processes holding the old secret cannot load keys they have not cached)"
        )
    else:
        console.print(
            f"{settings().resolved_data_dir / 'keys' / keyring.MASTER_FILE} now holds the new master key"
        )


@keys_app.command("status")
def status_command(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Master fingerprint and every key version (never key material), with vault fields per version."""
    with cli_errors():
        eng = engine()
        current, known = keyring.load_masters(settings())
        tenants = [get_tenant(eng, tenant)] if tenant else list_tenants(eng)
        slugs = {t.id: t.slug for t in tenants}
        rows = keyring.tenant_key_versions(eng, list(slugs))
        usage: dict[str, dict[int, int]] = {}
        for tenant_id in slugs:
            with tenant_session(eng, tenant_id) as session:
                usage[tenant_id] = vault.stale_rows(session, tenant_id)
    out: dict[str, Any] = {
        "master": {
            "source": "ECOMOPS_MASTER_KEY" if settings().master_key is not None else "key file",
            "kek_id": current.kek_id,
            "pending_rotation": len(known) > 1,
        },
        "keys": [
            {
                **row,
                "tenant": slugs[str(row["tenant_id"])],
                "vault_fields": usage.get(str(row["tenant_id"]), {}).get(int(str(row["version"])), 0)
                if row["purpose"] == "data"
                else None,
            }
            for row in rows
        ],
        "system_keys": keyring.system_key_versions(eng),
    }
    if json_out:
        print_json(out)
        return
    console.print(f"master key: {out['master']['source']}, fingerprint {current.kek_id}")
    for row in out["keys"]:
        state = "retired" if row["retired_at"] else "current"
        extra = f", {row['vault_fields']} vault field(s)" if row["vault_fields"] is not None else ""
        console.print(f"  {row['tenant']:<20} {row['purpose']:<10} v{row['version']} {state}{extra}")
    for row in out["system_keys"]:
        state = "retired" if row["retired_at"] else "current"
        console.print(f"  {'(system)':<20} {row['purpose']:<10} v{row['version']} {state}")
