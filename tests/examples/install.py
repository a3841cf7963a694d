"""Install the example module (examples/ecomops-hello) the way ``pip install`` does, without pip.

An installed distribution is its package on ``sys.path`` plus a ``<name>-<version>.dist-info`` folder
whose ``entry_points.txt`` is what ``importlib.metadata.entry_points`` reads; that is all ecomops'
registry looks at. Both are made here from the example's own ``pyproject.toml`` (so the entry point
tested is the one a real install registers), into a folder the tests put on a subprocess'
``PYTHONPATH``. No build step and no package index: fast, offline, and the same every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.timing import DEADLINE

EXAMPLE = REPO / "examples" / "ecomops-hello"
PACKAGE = "ecomops_hello"


def project() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((EXAMPLE / "pyproject.toml").read_text("utf-8"))["project"]
    return data


def install(target: Path) -> Path:
    """Install the example into ``target`` (a site directory) and return it."""
    meta = project()
    shutil.copytree(EXAMPLE / PACKAGE, target / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    dist = target / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n", "utf-8"
    )
    groups = [
        f"[{group}]\n" + "".join(f"{name} = {target_}\n" for name, target_ in entries.items())
        for group, entries in meta["entry-points"].items()
    ]
    (dist / "entry_points.txt").write_text("\n".join(groups), "utf-8")
    return target


def environment(data_dir: Path, site: Path | None, **extra: str) -> dict[str, str]:
    """A subprocess environment on ``data_dir``, with the example installed when ``site`` is given."""
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data_dir), **extra}
    if "ECOMOPS_DATABASE_URL" not in extra:
        env.pop("ECOMOPS_DATABASE_URL", None)
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return env


def ecomops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``ecomops ARGS`` as its own process (a wide terminal, so Rich does not wrap what tests read)."""
    return subprocess.run(
        [sys.executable, "-m", "ecomops.cli", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=DEADLINE * 4,
        check=False,
    )


def python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` from the repository root (so ``-m tests.…`` resolves), with ``env``."""
    pythonpath = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    return subprocess.run(
        [sys.executable, *args],
        env={**env, "PYTHONPATH": pythonpath},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DEADLINE * 4,
        check=False,
    )
