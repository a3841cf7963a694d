"""``ecomops live show``: the live dashboard's snapshot in a terminal (or as JSON for scripts).

One path: ``live.service.snapshot`` — through ``GET /api/v1/t/{tenant}/live`` while a server runs (it
owns the warehouse file and shares the snapshot with the open screens), otherwise computed here on the
file opened read-only. ``--json`` prints the API's JSON. ``--follow N`` prints one line per second for N
seconds — a quick look at a trading floor from an SSH session.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from ecomops.kernel.jsonutil import json_form
from ecomops.live import service
from ecomops.live.service import LiveSnapshot
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import (
    cli_errors,
    console,
    err_console,
    here_or_server,
    print_json,
    tenant_info,
)

live_app = typer.Typer(
    help="Live figures: today so far, the last 60 minutes, hot products.", no_args_is_help=True
)


def fetch_snapshot(tenant: str) -> LiveSnapshot:
    return here_or_server(
        remote=lambda client: client.call("GET", tenant_path(tenant, "live"), LiveSnapshot),
        local=lambda state: service.snapshot(state, tenant_info(state, tenant, "live")),
    )


def _line(snap: LiveSnapshot) -> str:
    today, last = snap.today, snap.minutes[-1]
    conversion = "–" if today.conversion is None else f"{today.conversion:.1%}"
    return (
        f"{snap.as_of:%H:%M:%S} UTC  GMV {today.gmv} {snap.currency}  orders {today.orders}  "
        f"visitors {today.visitors}  conversion {conversion}  this minute: {last.orders} order(s), "
        f"{last.gmv}  unpaid {today.unpaid_orders}"
    )


@live_app.command("show")
def show_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the snapshot as JSON")] = False,
    follow: Annotated[
        int, typer.Option(min=0, max=86_400, help="Print one summary line per second for this many seconds")
    ] = 0,
) -> None:
    """Today so far (tenant time zone), hot products, channels, live sessions and unpaid orders."""
    with cli_errors():
        snap = fetch_snapshot(tenant)
    if as_json:
        print_json(json_form(snap, LiveSnapshot))
        return
    if follow:
        deadline = time.monotonic() + follow
        while True:
            console.print(_line(snap))
            if time.monotonic() + 1 >= deadline:  # N lines for N seconds, even when fetching takes no time
                return
            time.sleep(1)
            with cli_errors():
                snap = fetch_snapshot(tenant)
    console.print(_line(snap))
    hot = Table("#", "product", "units", "revenue", title="hot products today")
    for p in snap.hot_products:
        hot.add_row(str(p.rank), p.name or p.product_id, str(p.units), str(p.revenue))
    console.print(hot)
    channels = Table("channel", "orders", "GMV", title="channels today")
    for c in snap.channels:
        channels.add_row(c.channel, str(c.orders), str(c.gmv))
    console.print(channels)
    sessions = Table("session", "on air", "peak viewers", "orders", "GMV", title="live sessions")
    for s in snap.live_sessions:
        sessions.add_row(
            s.title or s.live_session_id,
            "yes" if s.on_air else "no",
            "" if s.peak_viewers is None else str(s.peak_viewers),
            str(s.orders),
            str(s.gmv),
        )
    console.print(sessions)
    unpaid = Table("order", "placed", "status", "channel", "total", title="unpaid orders (newest first)")
    for o in snap.unpaid:
        placed = o.ordered_at.isoformat() if o.ordered_at else ""
        unpaid.add_row(o.order_id, placed, o.status, o.channel or "", f"{o.total} {o.currency}")
    console.print(unpaid)
    err_console.print(f"[dim]times in {snap.timezone}; money in {snap.currency}[/dim]")
