"""Bulk import speed: the Online Retail II preset vs DuckDB's own ``read_csv`` of the same file.

Both load the same gzip CSV into a fresh DuckDB file in this process, with the same thread
count as the warehouse connection. DuckDB only parses and stores the columns; the preset also
validates every row, writes the reject file, derives orders/refunds/customers, computes the
deterministic ids, skips rows already stored and maintains the orders/customers keys: the ratio
says what that costs. Prints figures only (run: ``.venv/bin/python bench/import.py [--repeat N] [FILE]``).
"""

from __future__ import annotations

import argparse
import statistics
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


def duckdb_read_csv(path: Path, workdir: Path) -> tuple[float, int]:
    con = duckdb.connect(str(workdir / "baseline.duckdb"), config={"threads": THREADS})
    try:
        started = time.perf_counter()
        con.execute("CREATE TABLE online_retail AS SELECT * FROM read_csv($path)", {"path": str(path)})
        seconds = time.perf_counter() - started
        rows = con.execute("SELECT count(*) FROM online_retail").fetchall()[0][0]
    finally:
        con.close()
    return seconds, int(rows)


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
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median reported)")
    args = parser.parse_args()
    path: Path = args.file

    baseline: list[float] = []
    ours: list[float] = []
    reimports: list[float] = []
    phases: list[dict[str, float]] = []
    rows = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            seconds, rows = duckdb_read_csv(path, Path(tmp))
            baseline.append(seconds)
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            seconds, again, read, timings = preset_import(path, Path(tmp), reimport=True)
            assert read == rows, f"row counts differ: preset read {read}, DuckDB {rows}"
            ours.append(seconds)
            reimports.append(again or 0.0)
            phases.append(timings)

    base, mine, again_median = (
        statistics.median(baseline),
        statistics.median(ours),
        statistics.median(reimports),
    )
    print(
        f"file: {path.name} ({path.stat().st_size:,} bytes, {rows:,} rows), {args.repeat} runs each, "
        f"threads={THREADS}"
    )
    print(
        f"duckdb read_csv        : {base:6.3f} s  {rows / base:12,.0f} rows/s   (runs: "
        f"{', '.join(f'{s:.3f}' for s in baseline)})"
    )
    print(
        f"ecomops online-retail-ii: {mine:6.3f} s  {rows / mine:12,.0f} rows/s   (runs: "
        f"{', '.join(f'{s:.3f}' for s in ours)})"
    )
    print(f"ecomops re-import (no-op): {again_median:5.3f} s  {rows / again_median:12,.0f} rows/s")
    print(f"ratio ours/duckdb speed: {base / mine:.2f}  (target >= 0.5)")
    for phase in ("read", "transform", "apply"):
        print(f"  {phase:<9} median {statistics.median(p[phase] for p in phases):.3f} s")


if __name__ == "__main__":
    main()
