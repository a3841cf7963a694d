"""Run one CLI command on both of its paths and compare: through a running server, and here without one.

``served`` starts the app in this process and makes it discoverable by the CLI as ``ecomops serve``
would (``server.json`` with the control token); leaving the block stops it, so the warehouse file is
free for the local path. ``failure`` reads the one line ``cli_errors`` prints for a failed command,
``http_failure`` the API's error body: both as (status, code, message), to compare exactly.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from click.testing import Result
from fastapi import FastAPI

from ecomops.app import create_app
from ecomops.platform.server import ServerInfo, remove_lock, write_lock
from ecomops.platform.settings import Settings
from ecomops.platform.web.state import AppState
from tests.conftest import free_port
from tests.timing import DEADLINE, wait_until

_ERROR_LINE = re.compile(r"error: (?P<message>.+) \((?P<status>\d{3}) (?P<code>[a-z_]+)\)")


@dataclass
class Served:
    url: str
    app: FastAPI

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.ecomops
        return state

    def api(self, tenant: str) -> httpx.Client:
        """The tenant's management API as the local CLI calls it (control token)."""
        return httpx.Client(
            base_url=f"{self.url}/api/v1/t/{tenant}",
            headers={"Authorization": f"Bearer {self.state.control_token}"},
            timeout=DEADLINE,
        )


@contextmanager
def served(settings: Settings) -> Iterator[Served]:
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the in-process server to start")
    if not server.started:
        raise RuntimeError("in-process server did not start")
    url = f"http://127.0.0.1:{port}"
    write_lock(settings, ServerInfo(os.getpid(), url, app.state.ecomops.control_token))
    try:
        yield Served(url, app)
    finally:
        remove_lock(settings, os.getpid())
        server.should_exit = True
        thread.join(DEADLINE)


def failure(result: Result) -> tuple[int, str, str]:
    """(status, code, message) of the ``error: …`` line a failed command printed (line wraps undone)."""
    assert result.exit_code == 1, result.output
    found = _ERROR_LINE.search(" ".join(result.output.split()))
    assert found is not None, result.output
    return int(found["status"]), found["code"], found["message"]


def http_failure(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, str(error["code"]), " ".join(str(error["message"]).split())


def rewritten_bytes(output: str) -> tuple[int, int]:
    """The warehouse sizes (before, after) a command without a server reports after rewriting the file."""
    found = re.search(r"warehouse rewritten: ([\d,]+) -> ([\d,]+) bytes", output)
    assert found is not None, output
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


def success(result: Result) -> Any:
    """The JSON a successful ``--json`` command printed."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
