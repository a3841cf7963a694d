"""``ecomops demo trickle``: keep the demo shop alive while a server serves it (``make demo`` runs it in
the background next to ``ecomops serve``), and the coverage check behind ``demo seed --if-missing``.

Why a separate process and not a job inside the server: the feed is a client of the ingest API like a
shop's site, so it uses the public path end to end (write key, HTTP, WAL, loader) and the server carries
no demo-only code; it can also feed any server, and stopping it never touches the server.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timedelta
from types import FrameType
from typing import Annotated

import httpx
import typer

from ecomops.kernel.clock import utcnow
from ecomops.platform.client import tenant_path
from ecomops.platform.commandline import cli_errors, console, engine, err_console, here_or_server, settings
from ecomops.platform.commandline import tenant_info as local_tenant
from ecomops.platform.tenants import get_tenant
from ecomops.simulate import coverage
from ecomops.simulate import params as p
from ecomops.simulate.feed import Feed, FeedStats, FeedStopped
from ecomops.simulate.feedkey import demo_write_key
from ecomops.simulate.trickle import DEFAULT_RATE, TrickleModel, TrickleParams

#: How far before the last simulated event a restarted feed resumes (longer than a session lasts).
RESUME_OVERLAP = timedelta(minutes=30)
#: Seconds between two summary lines while the feed runs.
REPORT_EVERY_S = 600.0


def shop_coverage(tenant: str) -> coverage.Coverage:
    """What demo shop ``tenant`` holds, through the running server or here."""
    return here_or_server(
        remote=lambda client: client.call("GET", tenant_path(tenant, "demo", "coverage"), coverage.Coverage),
        local=lambda state: coverage.coverage(state, local_tenant(state, tenant)),
    )


def wait_for_server(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url.rstrip("/") + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise FeedStopped(f"no server answered at {url} within {seconds:.0f} s")
        time.sleep(0.5)


def catch_up_start(cov: coverage.Coverage, now: datetime) -> datetime:
    """Where to resume: a little before the shop's last simulated event, so sessions a stopped feed left
    half sent are completed (what was sent comes back as duplicates); ``now`` for a shop without one."""
    if cov.last_event_at is None:
        return now
    return max(cov.last_event_at - RESUME_OVERLAP, now - timedelta(days=coverage.MAX_CATCH_UP_DAYS))


def shop_rate(cov: coverage.Coverage) -> float:
    """Events per second like the shop's recent days, else the model's default (an empty tenant)."""
    return cov.events_per_day / 86_400 if cov.events_per_day > 0 else DEFAULT_RATE


def _summary(stats: FeedStats) -> str:
    return (
        f"{stats.sent:,} messages ({stats.accepted:,} accepted, {stats.duplicates:,} already there, "
        f"{stats.rejected:,} rejected), {stats.orders:,} orders"
    )


def trickle_command(
    tenant: Annotated[str, typer.Option(help="Tenant slug of the demo shop")] = "demo",
    url: Annotated[
        str | None, typer.Option(help="Server to feed (default: ECOMOPS_HOST/ECOMOPS_PORT)")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Mean events per second over a day (default: the shop's last 7 days' rate)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="The seed the shop was seeded with")] = p.DEFAULT_SEED,
    customers: Annotated[int, typer.Option(help="The shop's customers (as seeded)")] = p.DEFAULT_CUSTOMERS,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up/--no-catch-up",
            help=f"First send the traffic missing since the shop's last simulated event "
            f"(at most {coverage.MAX_CATCH_UP_DAYS} days)",
        ),
    ] = True,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the server to answer")] = 120.0,
) -> None:
    """Send the demo shop's live traffic (visits, carts, orders, a Douyin live show) to the ingest API
    until stopped (Ctrl-C / SIGTERM) or the server goes away; issues the "demo-trickle" source's key."""
    if rate is not None and rate <= 0:
        err_console.print("[red]error:[/red] --rate must be positive")
        raise typer.Exit(2)
    cfg = settings()
    target = url or f"http://{cfg.host}:{cfg.port}"
    with cli_errors():
        info = get_tenant(engine(), tenant)
        key = demo_write_key(engine(), tenant)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        wait_for_server(target, wait)
    except FeedStopped as exc:
        err_console.print(f"demo feed not started: {exc}")
        raise typer.Exit(1) from exc
    with cli_errors():
        cov = shop_coverage(tenant)
    rate = rate or shop_rate(cov)
    model = TrickleModel(TrickleParams(seed, customers, info.timezone, info.currency, rate))
    feed = Feed(model, target, key)
    try:
        if catch_up:
            since = catch_up_start(cov, utcnow())
            if utcnow() - since > timedelta(minutes=1):
                console.print(f"demo feed: catching up since {since:%Y-%m-%d %H:%M %Z} …")
                feed.catch_up(since, stop)
                console.print(f"demo feed: caught up: {_summary(feed.stats)}")
        console.print(f"demo feed: live at ~{rate:.2g} events/s (daily mean) into {tenant} ({target})")
        reported = time.monotonic()

        def report(stats: FeedStats) -> None:
            nonlocal reported
            if time.monotonic() - reported >= REPORT_EVERY_S:
                reported = time.monotonic()
                console.print(f"demo feed: {_summary(stats)}")
            if stats.first_rejections:
                err_console.print(f"[yellow]demo feed: refused events:[/yellow] {stats.first_rejections}")
                stats.first_rejections.clear()

        feed.run(stop, report)
    except FeedStopped as exc:
        if not stop.is_set():
            err_console.print(f"demo feed stopped: {exc}")
            raise typer.Exit(1) from exc
    finally:
        feed.close()
    console.print(f"demo feed stopped: {_summary(feed.stats)}")
