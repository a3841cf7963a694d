"""``ecomops live show``: the live dashboard's snapshot in a terminal (or as JSON for scripts).

Through the running server when there is one (it owns the warehouse file and shares the snapshot with
the open screens), otherwise computed here on the file opened read-only. ``--follow N`` prints one
line per second for N seconds — a quick look at a trading floor from an SSH session.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from ecomops.kernel.clock import utcnow
from ecomops.live import service
from ecomops.platform.commandline import cli_errors, console, err_console, on_warehouse, print_json, settings
from ecomops.platform.server import call_server, running_server

live_app = typer.Typer(
    help="Live figures: today so far, the last 60 minutes, hot products.", no_args_is_help=True
)


def fetch_snapshot(tenant: str) -> dict[str, Any]:
    server = running_server(settings())
    if server is not None:
        result: dict[str, Any] = call_server(server, "GET", f"/api/v1/t/{quote(tenant)}/live")
        return result
    return on_warehouse(
        tenant,
        lambda cur, info: service.compute(cur, service.LiveScope(info.timezone, info.currency), utcnow()),
    )


def _line(snap: dict[str, Any]) -> str:
    today, last = snap["today"], snap["minutes"][-1]
    conversion = "–" if today["conversion"] is None else f"{today['conversion']:.1%}"
    return (
        f"{snap['as_of'][11:19]} UTC  GMV {today['gmv']} {snap['currency']}  orders {today['orders']}  "
        f"visitors {today['visitors']}  conversion {conversion}  this minute: {last['orders']} order(s), "
        f"{last['gmv']}  unpaid {today['unpaid_orders']}"
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
        print_json(snap)
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
    for p in snap["hot_products"]:
        hot.add_row(str(p["rank"]), p["name"] or p["product_id"], str(p["units"]), p["revenue"])
    console.print(hot)
    channels = Table("channel", "orders", "GMV", title="channels today")
    for c in snap["channels"]:
        channels.add_row(c["channel"], str(c["orders"]), c["gmv"])
    console.print(channels)
    sessions = Table("session", "on air", "peak viewers", "orders", "GMV", title="live sessions")
    for s in snap["live_sessions"]:
        sessions.add_row(
            s["title"] or s["live_session_id"],
            "yes" if s["on_air"] else "no",
            "" if s["peak_viewers"] is None else str(s["peak_viewers"]),
            str(s["orders"]),
            s["gmv"],
        )
    console.print(sessions)
    unpaid = Table("order", "placed", "status", "channel", "total", title="unpaid orders (newest first)")
    for o in snap["unpaid"]:
        unpaid.add_row(
            o["order_id"], o["ordered_at"], o["status"], o["channel"] or "", f"{o['total']} {o['currency']}"
        )
    console.print(unpaid)
    err_console.print(f"[dim]times in {snap['timezone']}; money in {snap['currency']}[/dim]")
