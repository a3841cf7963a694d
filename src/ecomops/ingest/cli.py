"""``ecomops ingest dead-letters list|replay``: inspect and replay refused events.

Through the running server's API when one owns the data dir, else on the warehouse file directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.ingest import service
from ecomops.ingest.pii import dead_letter_opener, vault_sink, wal_sealer
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform import tenants
from ecomops.platform.audit import record_action
from ecomops.platform.commandline import cli_errors, console, engine, print_json, settings
from ecomops.platform.server import call_server, running_server
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.tenancy import service as tenancy

ingest_app = typer.Typer(help="Event ingest: dead letters (refused events).", no_args_is_help=True)
dead_app = typer.Typer(help="List and replay events the ingest API refused.", no_args_is_help=True)
ingest_app.add_typer(dead_app, name="dead-letters")


@dead_app.command("list")
def list_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    include_replayed: Annotated[bool, typer.Option("--include-replayed")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Refused events, newest first, with the reason."""
    with cli_errors():
        server = running_server(settings())
        letters: list[dict[str, Any]]
        if server is not None:
            letters = call_server(
                server,
                "GET",
                f"/api/v1/t/{tenant}/ingest/dead-letters?limit={limit}&include_replayed={include_replayed}",
            )
        else:
            info = tenants.get_tenant(engine(), tenant)
            wh = open_warehouse(settings().warehouse_dir(), info.id)
            try:
                letters = service.list_dead_letters(
                    wh, limit, 0, include_replayed, dead_letter_opener(engine(), info.id)
                )
            finally:
                wh.close()
            details = {"count": len(letters), "offset": 0, "include_replayed": include_replayed}
            record_action(engine(), info.id, "ingest.dead_letter.read", "tenant", info.id, details=details)
    if json_out:
        print_json(letters)
        return
    table = Table("id", "received", "index", "reason", "payload", "replayed")
    for d in letters:
        payload = str(d["payload"])
        table.add_row(
            str(d["dead_letter_id"]),
            str(d["received_at"])[:19],
            str(d["batch_index"] or ""),
            str(d["reason"]),
            payload[:60] + ("…" if len(payload) > 60 else ""),
            str(d["replayed_at"] or "")[:19],
        )
    console.print(table)


@dead_app.command("replay")
def replay_command(
    dead_letter_id: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    payload: Annotated[Path | None, typer.Option(help="JSON file with the corrected event")] = None,
) -> None:
    """Validate a dead letter again (or a corrected version) and store it."""
    with cli_errors():
        corrected = None
        if payload is not None:
            try:
                corrected = json.loads(payload.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValidationFailed(f"cannot read {payload}: {exc}", {"field": "payload"}) from exc
            if not isinstance(corrected, dict):
                raise ValidationFailed("the corrected payload must be a JSON object", {"field": "payload"})
        server = running_server(settings())
        if server is not None:
            result = call_server(
                server,
                "POST",
                f"/api/v1/t/{tenant}/ingest/dead-letters/{dead_letter_id}/replay",
                json_body={"payload": corrected} if corrected is not None else None,
            )
            message_id, stored = result["message_id"], result["accepted"] == 1
        else:
            info = tenants.get_tenant(engine(), tenant)
            wh = open_warehouse(settings().warehouse_dir(), info.id)
            try:
                letter = service.get_dead_letter(wh, dead_letter_id, dead_letter_opener(engine(), info.id))
                if letter["source_id"] is None:
                    raise ValidationFailed("dead letter has no source", {"dead_letter_id": dead_letter_id})
                source = tenancy.get_source(engine(), info.id, letter["source_id"])
                message_id, stored = service.replay_direct(
                    wh,
                    letter,
                    source,
                    corrected,
                    info.currency,
                    wal_sealer(engine(), info.id),
                    vault_sink(engine())(info.id),
                )
            finally:
                wh.close()
            details = {"message_id": message_id, "corrected": corrected is not None}
            record_action(
                engine(), info.id, "ingest.dead_letter.replay", "dead_letter", dead_letter_id, details=details
            )
    state = "stored" if stored else "already stored (duplicate messageId)"
    console.print(f"replayed {dead_letter_id}: message {message_id} {state}")
