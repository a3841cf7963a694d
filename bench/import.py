"""Bulk import speed: the Online Retail II preset vs DuckDB's own ``read_csv`` of the same file.

Both load the same gzip CSV into a fresh DuckDB file, with the same thread count as the warehouse
connection. DuckDB only parses and stores the columns; the preset also validates every row, writes
the reject file, derives orders/refunds/customers, computes the deterministic ids, skips rows already
stored, maintains the orders/customers keys and refreshes the analytics rollups of the hours it
touched: the ratio says what that costs.

Three measurements per round, alternated so machine load hits them alike:
- ``read_csv`` in this process (the baseline);
- the whole ``ecomops import`` command as a user runs it (a new process: interpreter and module
  start-up, store and warehouse opening included) into a fresh data dir whose tenant was created
  beforehand; the ratio against ``read_csv`` is the headline figure. Child CPU seconds are reported
  beside wall seconds: on a shared machine CPU time is the steadier of the two;
- ``ecomops --help`` (start-up alone), and the preset in this process (the read / transform / apply
  phases, plus a re-import that adds nothing).

The commands run with bytecode caching on, as an installed package does (an environment with
``PYTHONDONTWRITEBYTECODE`` would recompile every source file at each start, ~0.7 s here); one
untimed ``ecomops --help`` writes the caches first.
Prints figures only (run: ``.venv/bin/python bench/import.py [--repeat N] [FILE]``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ecomops.imports.options import ImportOptions, InputFile
from ecomops.imports.service import run_import
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto.pseudonym import file_keys
from ecomops.platform.warehouse.connection import open_warehouse

#: Shipped with the repository (data/README.md); pass FILE to measure a bigger export of the same shape.
DEFAULT_FILE = Path(__file__).resolve().parents[1] / "data/online_retail_ii/online_retail_II_2009-2010.csv.gz"
THREADS = 2  # what ecomops.platform.warehouse.connection.connect configures
ECOMOPS = Path(sys.executable).parent / "ecomops"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(args: list[str], data_dir: Path) -> tuple[float, float, str]:
    """Run ``ecomops args`` as a user would; returns (wall s, CPU s, stdout)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["ECOMOPS_DATA_DIR"] = str(data_dir)
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([str(ECOMOPS), *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ecomops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, _children_cpu() - cpu, done.stdout


def cli_import(path: Path, workdir: Path) -> tuple[float, float, dict[str, float]]:
    """The whole ``ecomops import`` process into a fresh data dir: (wall s, CPU s, its phase timings)."""
    command(["tenant", "create", "bench", "--timezone", "Europe/London", "--currency", "GBP"], workdir)
    wall, cpu, out = command(
        ["import", str(path), "--tenant", "bench", "--preset", "online-retail-ii", "--json"], workdir
    )
    job = json.loads(out)
    assert job["status"] == "succeeded", job
    timings: dict[str, float] = job["summary"]["timings"]
    return wall, cpu, timings


def duckdb_read_csv(path: Path, workdir: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, rows) of DuckDB's own read_csv into a fresh file, in this process."""
    con = duckdb.connect(str(workdir / "baseline.duckdb"), config={"threads": THREADS})
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        con.execute("CREATE TABLE online_retail AS SELECT * FROM read_csv($path)", {"path": str(path)})
        con.execute("CHECKPOINT")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        rows = con.execute("SELECT count(*) FROM online_retail").fetchall()[0][0]
    finally:
        con.close()
    return seconds, cpu, int(rows)


def preset_import(
    path: Path, workdir: Path, reimport: bool
) -> tuple[float, float | None, int, dict[str, float]]:
    tenant = TenantInfo("tn_bench", "bench", "Bench", "Europe/London", "GBP", datetime.now(UTC))
    warehouse = open_warehouse(workdir, tenant.id)
    try:
        runs = []
        for attempt in range(2 if reimport else 1):
            started = time.perf_counter()
            summary = run_import(
                warehouse=warehouse,
                tenant=tenant,
                import_id=f"bench{attempt}",
                files=[InputFile(path, path.name)],
                options=ImportOptions("online-retail-ii"),
                work_dir=workdir / f"job{attempt}",
                keys=file_keys(workdir),
            )
            runs.append((time.perf_counter() - started, summary))
    finally:
        warehouse.close()
    first_seconds, first = runs[0]
    again = runs[1][0] if reimport else None
    return first_seconds, again, first.rows_read, first.timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "file", nargs="?", type=Path, default=DEFAULT_FILE, help="an Online Retail II CSV (default: data/)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians reported)")
    args = parser.parse_args()
    path: Path = args.file

    runs: dict[str, list[float]] = {
        k: [] for k in ("duckdb", "duckdb_cpu", "cli", "cli_cpu", "help", "help_cpu", "ours", "again")
    }
    phases: list[dict[str, float]] = []
    cli_phases: list[dict[str, float]] = []
    rows = 0
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        command(["--help"], Path(tmp))  # writes the bytecode caches; not timed
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            seconds, cpu, rows = duckdb_read_csv(path, Path(tmp))
            runs["duckdb"].append(seconds)
            runs["duckdb_cpu"].append(cpu)
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            wall, cpu, timings = cli_import(path, Path(tmp))
            runs["cli"].append(wall)
            runs["cli_cpu"].append(cpu)
            cli_phases.append(timings)
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            wall, cpu, _ = command(["--help"], Path(tmp))
            runs["help"].append(wall)
            runs["help_cpu"].append(cpu)
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            seconds, again, read, timings = preset_import(path, Path(tmp), reimport=True)
            assert read == rows, f"row counts differ: preset read {read}, DuckDB {rows}"
            runs["ours"].append(seconds)
            runs["again"].append(again or 0.0)
            phases.append(timings)
        loads.append(os.getloadavg()[0])

    med = {k: statistics.median(v) for k, v in runs.items()}

    def line(label: str, key: str, cpu: str | None = None) -> None:
        figures = ", ".join(f"{s:.3f}" for s in runs[key])
        extra = f"  CPU {med[cpu]:6.3f} s" if cpu else ""
        print(f"{label:<34}: {med[key]:6.3f} s  {rows / med[key]:10,.0f} rows/s{extra}   (runs: {figures})")

    print(
        f"file: {path.name} ({path.stat().st_size:,} bytes, {rows:,} rows), {args.repeat} rounds, "
        f"threads={THREADS}, 1-min load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    )
    line("duckdb read_csv (in process)", "duckdb", "duckdb_cpu")
    line("ecomops import (whole command)", "cli", "cli_cpu")
    print(f"  of which start-up (ecomops --help): {med['help']:.3f} s, CPU {med['help_cpu']:.3f} s")
    for phase in ("read", "transform", "apply"):
        print(f"  {phase:<9} median {statistics.median(p[phase] for p in cli_phases):.3f} s")
    line("preset in process, first import", "ours")
    line("preset in process, re-import (no-op)", "again")
    for phase in ("read", "transform", "apply"):
        print(f"  {phase:<9} median {statistics.median(p[phase] for p in phases):.3f} s")
    print(
        f"ratio ours/duckdb speed, whole command: {med['duckdb'] / med['cli']:.2f} (CPU "
        f"{med['duckdb_cpu'] / med['cli_cpu']:.2f}); in process: {med['duckdb'] / med['ours']:.2f}  "
        "(target >= 0.5)"
    )


if __name__ == "__main__":
    main()
