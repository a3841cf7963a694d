"""Demo-shop simulator speed: events generated per second (target ≥ 200,000/s) and the total time to a
seeded warehouse, for the ``make demo`` size by default.

Phases: NumPy generation, Arrow conversion, the DuckDB write (delete + bulk INSERT … SELECT from Arrow,
one transaction, with the analytics rollups rebuilt in it: its wall time is shown apart, and the write's
CPU seconds beside its wall seconds, the steadier figure on a shared machine). In-run baseline for the
write path: inserting a sample of the same finished event rows with ``executemany`` (row at a time) into
a fresh warehouse; the ratio is what the Arrow path buys.
Usage: ``.venv/bin/python bench/simulate.py [--days 400] [--customers 50000] [--seed 42] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.simulate.generate import simulate
from ecomops.simulate.params import DEFAULT_CUSTOMERS, DEFAULT_DAYS, DEFAULT_SEED, SeedParams, Shop
from ecomops.simulate.tables import all_tables
from ecomops.simulate.writer import delete_simulated, write_tables

TARGET_EVENTS_PER_SECOND = 200_000
BASELINE_ROWS = 20_000


def run_once(params: SeedParams, workdir: Path) -> dict[str, float]:
    shop = Shop("Asia/Shanghai", "CNY")
    started = time.perf_counter()
    sim = simulate(params, shop)
    generated = time.perf_counter()
    tables = all_tables(sim)
    converted = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = open_warehouse(workdir, "bench")
    listeners: list[float] = []
    warehouse.on_facts = lambda kind, seconds: listeners.append(seconds)
    try:
        cpu = time.process_time()
        with warehouse.write() as cur:
            delete_simulated(cur)
            write_tables(cur, tables, shop.currency, sim.as_of_us)
        written = time.perf_counter()
        write_cpu = time.process_time() - cpu
        rows = sum(t.num_rows for name, t in tables.items() if name != "sim_sessions")
    finally:
        warehouse.close()
    return {
        "events": sim.events.size,
        "rows": rows,
        "generate_s": generated - started,
        "arrow_s": converted - generated,
        "write_s": written - converted,
        "write_cpu_s": write_cpu,
        "rollups_s": sum(listeners),
        "total_s": written - started,
    }


def row_at_a_time(workdir: Path, source: Path) -> float:
    """Rows/s inserting finished event rows one by one (executemany), copied from the bulk-written file."""
    src = open_warehouse(source, "bench")
    try:
        sample = src.query("SELECT * FROM events ORDER BY message_id LIMIT ?", [BASELINE_ROWS])
    finally:
        src.close()
    workdir.mkdir(parents=True, exist_ok=True)
    target = open_warehouse(workdir, "baseline")
    try:
        placeholders = ", ".join("?" * len(sample[0]))
        started = time.perf_counter()
        with target.write() as cur:
            cur.executemany(f"INSERT INTO events VALUES ({placeholders})", sample)
        return len(sample) / (time.perf_counter() - started)
    finally:
        target.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    params = SeedParams(days=args.days, customers=args.customers, seed=args.seed).validated()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            runs.append(run_once(params, Path(tmp) / f"run{i}"))
        baseline = row_at_a_time(Path(tmp) / "baseline", Path(tmp) / "run0")

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    events, rows = runs[0]["events"], runs[0]["rows"]
    gen_rate = events / med("generate_s")
    bulk_rate = rows / med("write_s")
    print(
        f"simulate {params.days} days, {params.customers:,} customers, seed {params.seed} "
        f"(median of {args.repeat} run(s)), 1-min load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"  events generated        {events:,}")
    print(f"  rows written (all)      {rows:,}")
    print(
        f"  generate                {med('generate_s'):7.2f} s  {gen_rate:12,.0f} events/s "
        f"({gen_rate / TARGET_EVENTS_PER_SECOND:.1f}x the 200k/s target)"
    )
    print(f"  arrow tables            {med('arrow_s'):7.2f} s")
    print(
        f"  warehouse write         {med('write_s'):7.2f} s  {bulk_rate:12,.0f} rows/s  (CPU "
        f"{med('write_cpu_s'):.2f} s; of the wall time, rollup rebuild {med('rollups_s'):.2f} s)"
    )
    total = med("total_s")
    print(f"  total                   {total:7.2f} s  {events / total:12,.0f} events/s end to end")
    ratio = bulk_rate / baseline
    print(f"  baseline executemany    {baseline:12,.0f} rows/s  (bulk Arrow write is {ratio:,.0f}x)")


if __name__ == "__main__":
    main()
