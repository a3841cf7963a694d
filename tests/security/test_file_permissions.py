"""The data dir and everything in it are private to the service user (issue 10: the SQLite store,
DuckDB warehouses and import reject files were world-readable), and doctor warns when they are not."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from ecomops.ops import doctor
from ecomops.platform.settings import get_settings
from tests.conftest import start_server
from tests.timing import DEADLINE


def _loose(root: Path) -> list[str]:
    found = []
    for folder, _dirs, files in os.walk(root):
        for entry in (Path(folder), *(Path(folder) / f for f in files)):
            mode = entry.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{entry.relative_to(root)} {stat.filemode(mode)}")
    return found


def _as_shell(umask: int) -> None:
    os.umask(umask)


def test_commands_and_the_server_write_private_files_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data_dir)}
    env.pop("ECOMOPS_DATABASE_URL", None)
    # A shell with the usual umask 022 (files 0644): the command must not inherit it.
    created = subprocess.run(
        [sys.executable, "-m", "ecomops.cli", "tenant", "create", "acme", "--name", "Acme"],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: _as_shell(0o022),
        timeout=DEADLINE,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    source = subprocess.run(
        [sys.executable, "-m", "ecomops.cli", "source", "create", "--tenant", "acme", "site", "--json"],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: _as_shell(0o022),
        timeout=DEADLINE,
        check=False,
    )
    assert source.returncode == 0, source.stderr + source.stdout
    old = os.umask(0o022)
    try:
        server = start_server(data_dir)
    finally:
        os.umask(old)
    try:
        write_key = _write_key(source.stdout)
        r = httpx.post(
            server.url + "/v1/track",
            json={"event": "Product Viewed", "userId": "u1", "messageId": "m1"},
            auth=(write_key, ""),
            timeout=DEADLINE,
        )
        assert r.status_code == 200, r.text
    finally:
        server.stop()
    assert any(p.suffix == ".duckdb" for p in (data_dir / "warehouse").iterdir())
    assert any((data_dir / "wal").rglob("*"))
    assert _loose(data_dir) == []


def _write_key(output: str) -> str:
    return str(json.loads(output)["write_key"])


def test_doctor_warns_about_files_others_can_read(data_dir: Path) -> None:
    settings = get_settings()
    root = settings.resolved_data_dir
    check = doctor.check_data_dir(settings)
    assert check.status == doctor.Status.ok, check.detail
    exposed = root / "ecomops.sqlite3"
    exposed.write_bytes(b"")
    exposed.chmod(0o644)
    check = doctor.check_data_dir(settings)
    assert check.status == doctor.Status.warn
    assert "ecomops.sqlite3" in check.detail and "chmod -R go-rwx" in check.detail
