"""The running server's lock file, so CLI commands that touch a warehouse go through the server.

DuckDB lets one process write a file; while ``ecomops serve`` runs it owns every tenant
warehouse, so the CLI sends warehouse work to its API (``platform.client.ServerClient``),
authenticated by a local control token that only users who can read the data dir can see.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx

from ecomops.platform.settings import Settings


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    url: str
    token: str


def lock_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "server.json"


def new_control_token() -> str:
    return "ctl_" + secrets.token_urlsafe(32)


def write_lock(settings: Settings, info: ServerInfo) -> None:
    path = lock_path(settings)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": info.pid, "url": info.url, "token": info.token}, fh)
    os.replace(tmp, path)


def remove_lock(settings: Settings, pid: int) -> None:
    path = lock_path(settings)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(settings: Settings) -> ServerInfo | None:
    """The server owning this data dir, if one is alive and answering."""
    try:
        data = json.loads(lock_path(settings).read_text())
        info = ServerInfo(int(data["pid"]), str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError):
        return None
    if not _alive(info.pid):
        return None
    try:
        ok = httpx.get(info.url + "/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return None
    return info if ok else None
