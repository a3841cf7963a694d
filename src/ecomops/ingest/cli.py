"""``ecomops ingest dead-letters list|replay``: inspect and replay refused events.

Through the running server's API when one owns the data dir, else on the warehouse file here
(``here_or_server``); both paths run ``ingest.deadletters``, so results, audit records and errors
(status, code and message) are the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ecomops.ingest import deadletters
from ecomops.ingest.deadletters import DeadLetter, ReplayResult
from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, here_or_server, print_json, tenant_info

ingest_app = typer.Typer(help="Event ingest: dead letters (refused events).", no_args_is_help=True)
dead_app = typer.Typer(help="List and replay events the ingest API refused.", no_args_is_help=True)
ingest_app.add_typer(dead_app, name="dead-letters")


def fetch_dead_letters(
    tenant: str, *, limit: int, include_replayed: bool, reveal: bool = False
) -> list[DeadLetter]:
    return here_or_server(
        remote=lambda client: client.call(
            "GET",
            tenant_path(tenant, "ingest", "dead-letters"),
            list[DeadLetter],
            params={"limit": limit, "include_replayed": include_replayed, "reveal": reveal},
        ),
        local=lambda state: deadletters.list_dead_letters(
            state, tenant_info(state, tenant), limit=limit, include_replayed=include_replayed, reveal=reveal
        ),
    )


def replay(tenant: str, dead_letter_id: str, corrected: dict[str, Any] | None) -> ReplayResult:
    return here_or_server(
        remote=lambda client: client.call(
            "POST",
            tenant_path(tenant, "ingest", "dead-letters", dead_letter_id, "replay"),
            ReplayResult,
            json={"payload": corrected} if corrected is not None else None,
        ),
        local=lambda state: deadletters.replay_dead_letter(
            state, tenant_info(state, tenant), dead_letter_id, corrected
        ),
        writable=True,
    )


@dead_app.command("list")
def list_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    include_replayed: Annotated[bool, typer.Option("--include-replayed")] = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show personal data in payloads (masked otherwise); audited")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Refused events, newest first, with the reason (reading them is audited)."""
    with cli_errors():
        letters = fetch_dead_letters(tenant, limit=limit, include_replayed=include_replayed, reveal=reveal)
    if json_out:
        print_json(json_form(letters, list[DeadLetter]))
        return
    table = Table("id", "received", "index", "reason", "payload", "replayed")
    for d in letters:
        table.add_row(
            d.dead_letter_id,
            d.received_at.isoformat()[:19],
            "" if d.batch_index is None else str(d.batch_index),
            d.reason,
            d.payload[:60] + ("…" if len(d.payload) > 60 else ""),
            d.replayed_at.isoformat()[:19] if d.replayed_at else "",
        )
    console.print(table)


def read_payload(path: Path) -> dict[str, Any]:
    try:
        corrected = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"cannot read {path}: {exc}", {"field": "payload"}) from exc
    if not isinstance(corrected, dict):
        raise ValidationFailed("the corrected payload must be a JSON object", {"field": "payload"})
    return corrected


@dead_app.command("replay")
def replay_command(
    dead_letter_id: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    payload: Annotated[Path | None, typer.Option(help="JSON file with the corrected event")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate a dead letter again (or a corrected version) and store it."""
    with cli_errors():
        corrected = read_payload(payload) if payload is not None else None
        result = replay(tenant, dead_letter_id, corrected)
    if json_out:
        print_json(json_form(result, ReplayResult))
        return
    state = "stored" if result.accepted else "already stored (duplicate messageId)"
    console.print(f"replayed {dead_letter_id}: message {result.message_id} {state}")
