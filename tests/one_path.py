"""Helpers for "one path per use case" tests: run a command here (no server) and through a running
``ecomops serve``, and read what it printed, so a test can compare both paths with the HTTP answer.

A failing command prints ``error: <message> (<status> <code>)`` (``commandline.cli_errors``); a failing
request answers ``{"error": {"code", "message"}}`` with its status. Both come out as one
``(status, code, message)`` triple.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from ecomops.cli import app
from ecomops.platform import commandline
from ecomops.platform.server import running_server
from ecomops.platform.settings import get_settings
from tests.conftest import start_server

Failure = tuple[int, str, str]
ERROR_LINE = re.compile(r"^error: (?P<message>.*) \((?P<status>\d{3}) (?P<code>[a-z_]+)\)$")


def cli(*args: str) -> Result:
    """Run ``ecomops <args>`` in this process; the consoles are widened so nothing is wrapped."""
    commandline.console.width = commandline.err_console.width = 10_000
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def cli_json(*args: str) -> Any:
    """A command's ``--json``/``-f json`` output, which must have succeeded."""
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cli_failure(*args: str) -> Failure:
    """The (status, code, message) a failing command printed."""
    result = cli(*args)
    assert result.exit_code == 1, result.output
    lines = [m for line in result.stderr.splitlines() if (m := ERROR_LINE.match(line.strip()))]
    assert len(lines) == 1, result.stderr
    found = lines[0]
    return int(found["status"]), found["code"], found["message"]


def http_failure(response: httpx.Response) -> Failure:
    assert not response.is_success, response.text
    error = response.json()["error"]
    return response.status_code, str(error["code"]), str(error["message"])


@contextmanager
def serving(data_dir: Path, tenant: str, extra_env: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    """A real ``ecomops serve`` on ``data_dir`` for the duration: commands now go through it. Yields a
    client of ``/api/v1/t/{tenant}`` authenticated like the CLI (the control token)."""
    server = start_server(data_dir, extra_env=extra_env)
    try:
        assert running_server(get_settings()) is not None, "the CLI would not see the server"
        with httpx.Client(
            base_url=f"{server.url}/api/v1/t/{tenant}",
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=120,
        ) as client:
            yield client
    finally:
        server.stop()
    assert running_server(get_settings()) is None
