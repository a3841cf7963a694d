"""Shared CLI plumbing: settings/engine access, error printing, and talking to a running server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from ecomops.kernel.errors import EcomopsError
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import engine_for
from ecomops.platform.store.migrate import current_revision, head_revision, upgrade

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def settings() -> Settings:
    return get_settings()


def engine() -> Engine:
    """The operational store, migrated to head (CLI commands may be the first thing ever run)."""
    eng = engine_for(settings().resolved_database_url)
    if current_revision(eng) != head_revision(eng):
        upgrade(eng)
    return eng


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn domain errors into one red line and exit code 1 instead of a traceback."""
    try:
        yield
    except EcomopsError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        if exc.details:
            err_console.print(json.dumps(exc.details, default=str, ensure_ascii=False))
        raise typer.Exit(1) from exc


def run(fn: Callable[[], T]) -> T:
    with cli_errors():
        return fn()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")
