"""Every shell block of README.md and docs/*.md runs as written, in order, against a fresh data dir.

Each document is one shell session (variables such as ``$KEY`` carry from block to block, as in a reader's
terminal) under ``set -euo pipefail``, so any failing command or unset variable fails the test. The session
gets an empty ``ECOMOPS_DATA_DIR``, a free ``ECOMOPS_PORT`` (the docs write URLs as
``http://127.0.0.1:${ECOMOPS_PORT:-8000}``), this test run's virtualenv first on ``PATH``, and a working
folder where ``data/`` and ``.venv`` are the checkout's. Servers the blocks start in the background are
stopped with the session's process group at the end.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.docs.command_blocks import REPO, Block, documents, marker_count, shell_blocks
from tests.timing import wait_until

#: Seconds one document's session may take before it counts as hung (a server that never answered).
SESSION_TIMEOUT = 300.0
WITH_BLOCKS = [path for path in documents() if shell_blocks(path)]


def session_script(blocks: list[Block]) -> str:
    """One shell script of the runnable blocks that says which block failed, and where."""
    parts = ["set -euo pipefail", "trap 'echo \"docs block failed: $DOCS_BLOCK\" >&2' ERR"]
    for block in blocks:
        if block.not_run is None:
            parts += [f"DOCS_BLOCK={shlex.quote(block.where)}", 'echo "== $DOCS_BLOCK"', block.commands()]
    return "\n".join(parts) + "\n"


def session_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without its ECOMOPS_* settings (a PostgreSQL URL, a cluster log) plus ours."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ECOMOPS_")}
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ECOMOPS_DATA_DIR"] = str(data_dir)
    env["ECOMOPS_PORT"] = str(free_port())
    return env


def stop_group(pgid: int) -> None:
    """End what the session left running (``ecomops serve &``): TERM, then KILL if it lingers."""

    def gone() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if gone():
            return
        os.killpg(pgid, sig)
        try:
            wait_until(gone, f"process group {pgid} to end after {sig.name}", timeout=20)
            return
        except AssertionError:
            continue


def test_every_document_with_blocks_is_found() -> None:
    """The parser sees the README's blocks, so a broken fence pattern cannot turn this test into a no-op."""
    assert REPO / "README.md" in WITH_BLOCKS
    assert any(block.not_run is None for block in shell_blocks(REPO / "README.md"))


@pytest.mark.parametrize("path", WITH_BLOCKS, ids=lambda p: str(p.relative_to(REPO)))
def test_not_run_markers_have_reasons_and_blocks(path: Path) -> None:
    blocks = shell_blocks(path)
    assert all(block.not_run != "" for block in blocks), "a not-run marker needs a reason"
    assert marker_count(path) == sum(block.not_run is not None for block in blocks), (
        f"{path.name}: a <!-- not-run: --> marker must stand right above the shell block it skips"
    )


@pytest.mark.parametrize("path", WITH_BLOCKS, ids=lambda p: str(p.relative_to(REPO)))
def test_command_blocks_run(path: Path, tmp_path: Path) -> None:
    blocks = shell_blocks(path)
    skipped = [block for block in blocks if block.not_run is not None]
    print(f"{path.relative_to(REPO)}: {len(blocks) - len(skipped)} blocks run, {len(skipped)} not run")
    for block in skipped:
        print(f"  not run: {block.where}: {block.not_run}")
    if len(skipped) == len(blocks):
        return
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to(REPO / "data")
    (work / "tests").symlink_to(REPO / "tests")  # shipped sample files the docs name (e.g. a sessions export)
    (work / ".venv").symlink_to(sys.prefix)
    script = tmp_path / "session.sh"
    script.write_text(session_script(blocks), encoding="utf-8")
    log = tmp_path / "session.log"
    with log.open("wb") as out:
        # Output to a file, not a pipe: a server left in the background would hold a pipe open.
        proc = subprocess.Popen(
            ["bash", str(script)],
            cwd=work,
            env=session_env(tmp_path / "data"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            status = proc.wait(timeout=SESSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
        finally:
            stop_group(proc.pid)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert status == 0, f"{path.name}: exit {status}\n{output[-6000:]}"
