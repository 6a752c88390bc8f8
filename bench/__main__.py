"""`make bench` (`python -m bench [module …]`): every figure the issues name, in one run, as one
table — figure, value, goal, the baseline measured in the same run, the ratio, and whether each
goal is met. Each module runs in its own process (its own PostgreSQL and broker, as when run
alone) and hands its figures back through ``BENCH_FIGURES_FILE``. The table is printed and
written as Markdown, with the machine it ran on, to var/bench/latest.md.

Exit status: 0 when every module ran, whatever the figures say (a missed goal is printed as a
miss, in the table and after it); 1 when a module crashed or measured nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import table

MODULES = ("pdf", "paypage", "notify", "aging", "pipeline")
LATEST = Path(__file__).resolve().parent.parent / "var" / "bench" / "latest.md"


def main(argv: list[str]) -> int:
    chosen = argv or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        print(f"unknown bench module(s) {unknown}; choose from {', '.join(MODULES)}")
        return 2
    load_before, started = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        figures, crashed = run_all(chosen, Path(scratch) / "figures.jsonl")
    seconds = time.perf_counter() - started
    where = table.machine(load_before, os.getloadavg()[0])
    sizes = development_sizes()
    print("\n=== FieldPay benchmarks: one run, one table ===")
    print(table.text(figures))
    print(f"\nmachine: {where}")
    print(f"wall time: {seconds / 60:.1f} min ({', '.join(chosen)})")
    if sizes:
        print(f"development sizes (not the issues' figures): {sizes}")
    print("\n".join(table.misses(figures)) or "every goal met")
    for module in crashed:
        print(f"CRASHED: bench.{module} (its figures are missing from the table)")
    write_latest(figures, f"{where}. Wall time {seconds / 60:.1f} min", sizes, crashed)
    print(f"written to {LATEST}")
    return 1 if crashed else 0


def run_all(modules: list[str], figures_file: Path) -> tuple[list[table.Figure], list[str]]:
    """Run each module in its own process; (the figures in module order, the modules that
    crashed or measured nothing)."""
    crashed = []
    env = {**os.environ, table.FIGURES_FILE: str(figures_file)}
    for module in modules:
        before = len(table.read(figures_file))
        done = subprocess.run([sys.executable, "-m", f"bench.{module}"], env=env, check=False)
        if done.returncode != 0 or len(table.read(figures_file)) == before:
            crashed.append(module)
    return table.read(figures_file), crashed


def development_sizes() -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k in SIZE_KNOBS)


def write_latest(figures: list[table.Figure], where: str, sizes: str, crashed: list[str]) -> None:
    lines = ["# Latest `make bench`", "", table.markdown(figures), "", f"Machine: {where}."]
    if sizes:
        lines.append(f"Development sizes (not the issues' figures): {sizes}.")
    if crashed:
        lines.append(f"Crashed (figures missing): {', '.join(crashed)}.")
    LATEST.parent.mkdir(parents=True, exist_ok=True)
    LATEST.write_text("\n".join(lines) + "\n", "utf-8")


SIZE_KNOBS = (
    "BENCH_AGING_INVOICES",
    "BENCH_AGING_REPLAYED",
    "BENCH_PIPELINE_JOBS",
    "BENCH_PIPELINE_RAW",
    "BENCH_PIPELINE_SECONDS",
)
"""Environment variables that shrink a run for development; a table made with any of them set
says so."""


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
