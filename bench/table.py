"""One shape for every figure `make bench` measures, and the table they make together.

A figure is what was measured (``value``), the baseline measured beside it in the same run, and the
goals an issue set for it. ``ratio`` always reads the same way: how the figure compares with its
baseline, above 1 when it does better (for a rate: value / baseline; for a time or a size, where
less is better: baseline / value). A goal is on the value (e.g. median ≤ 15 ms) or on the ratio
(e.g. ≥ 100× the straightforward query).

Each bench module prints its own part of the table when run alone; under ``python -m bench`` it
also appends its figures, as JSON lines, to the file named by ``BENCH_FIGURES_FILE``."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

FIGURES_FILE = "BENCH_FIGURES_FILE"


@dataclass(frozen=True)
class Goal:
    bound: float
    at_least: bool
    """≥ bound when true, ≤ bound otherwise."""
    on_ratio: bool = False
    """The goal is on the ratio to the baseline, not on the value."""

    def met_by(self, figure: Figure) -> bool:
        seen = figure.ratio if self.on_ratio else figure.value
        return seen >= self.bound if self.at_least else seen <= self.bound

    def describe(self, unit: str) -> str:
        sign = "≥" if self.at_least else "≤"
        if self.on_ratio:
            return f"ratio {sign} {_bound(self.bound)}×"
        return f"{sign} {_bound(self.bound)} {unit}"


@dataclass(frozen=True)
class Figure:
    issue: int
    name: str
    value: float
    unit: str
    baseline: float
    baseline_name: str
    higher_is_better: bool
    goals: tuple[Goal, ...] = ()
    baseline_unit: str = ""
    """The baseline's unit when it differs (the raw client moves messages, the pipeline jobs)."""

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.value / self.baseline
        return self.baseline / self.value

    @property
    def met(self) -> bool | None:
        """Whether every goal holds; None for a figure with no goal (shown for context)."""
        if not self.goals:
            return None
        return all(goal.met_by(self) for goal in self.goals)

    def verdicts(self) -> str:
        if not self.goals:
            return "—"
        return " · ".join("yes" if goal.met_by(self) else "**NO**" for goal in self.goals)

    def row(self) -> tuple[str, str, str, str, str, str]:
        goals = " · ".join(goal.describe(self.unit) for goal in self.goals) or "—"
        baseline = f"{amount(self.baseline, self.baseline_unit or self.unit)} {self.baseline_name}"
        return (
            f"{self.name} (#{self.issue})",
            amount(self.value, self.unit),
            goals,
            baseline,
            f"{_number(self.ratio)}×",
            self.verdicts(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Figure:
        fields = json.loads(line)
        fields["goals"] = tuple(Goal(**goal) for goal in fields["goals"])
        return cls(**fields)


HEADER = ("figure (issue)", "value", "goal", "baseline, same run", "ratio", "met?")


def amount(value: float, unit: str) -> str:
    """A figure as people read it: 12.1 ms, 2,409 jobs/s, 12.5 KB."""
    return f"{_number(value)} {unit}".strip()


def _bound(value: float) -> str:
    """A goal as the issue wrote it: 15, 0.25, 2,000."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _number(value: float) -> str:
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def text(figures: Sequence[Figure]) -> str:
    """The table for a terminal: aligned columns."""
    rows = [HEADER, *(tuple(c.replace("**", "") for c in f.row()) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    rows.insert(1, tuple("-" * width for width in widths))
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def markdown(figures: Sequence[Figure]) -> str:
    rows = [HEADER, tuple("---" for _ in HEADER), *(f.row() for f in figures)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def misses(figures: Iterable[Figure]) -> list[str]:
    """One line per figure that missed a goal: what it is, what it was, what was asked."""
    found = []
    for figure in figures:
        if figure.met is False:
            name, value, goal, _baseline, ratio, _met = figure.row()
            found.append(f"MISSED: {name}: {value}, ratio {ratio}; goal {goal}")
    return found


def report(figures: Sequence[Figure]) -> int:
    """Print a module's figures; under ``python -m bench``, hand them to the runner too."""
    print("\n" + text(figures), flush=True)
    to = os.environ.get(FIGURES_FILE)
    if to:
        with Path(to).open("a", encoding="utf-8") as out:
            out.writelines(f.to_json() + "\n" for f in figures)
    return 0


def read(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure.from_json(line) for line in path.read_text("utf-8").splitlines() if line]


# --- the machine the figures come from ------------------------------------------------------


def machine(load_before: float, load_after: float) -> str:
    """One line: CPU model, cores, memory, Python, date, and the load around the run (the machine
    may be shared)."""
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"1-minute load average {load_before:.2f} before the run, {load_after:.2f} after"
    )


def _cpu_model() -> str:
    return _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    kib = _proc_field("/proc/meminfo", "MemTotal").split(" ")[0]
    return int(kib) / 1024 / 1024 if kib.isdigit() else 0.0


def _proc_field(path: str, name: str) -> str:
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == name:
            return " ".join(value.split())
    return ""
