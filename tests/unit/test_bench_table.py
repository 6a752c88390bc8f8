"""The bench table: ratios read the same way for rates and times, goals on the value or the ratio,
figures survive the trip from a module's process to the runner, and a module that crashes or
measures nothing is told apart from one that missed a goal."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as runner
from bench import table
from bench.table import Figure, Goal


def pdf(median: float, stock: float = 24.0) -> Figure:
    return Figure(
        issue=4,
        name="invoice PDF render",
        value=median,
        unit="ms",
        baseline=stock,
        baseline_name="stock widget",
        higher_is_better=False,
        goals=(Goal(15.0, at_least=False),),
    )


def pipeline(jobs_per_s: float, raw: float = 36_000.0) -> Figure:
    return Figure(
        issue=2,
        name="closed→drafted throughput",
        value=jobs_per_s,
        unit="jobs/s",
        baseline=raw,
        baseline_unit="msg/s",
        baseline_name="raw",
        higher_is_better=True,
        goals=(Goal(2000.0, at_least=True), Goal(0.25, at_least=True, on_ratio=True)),
    )


def test_ratio_is_above_one_when_the_figure_beats_its_baseline() -> None:
    assert pdf(12.0, stock=24.0).ratio == pytest.approx(2.0)  # a time: baseline / value
    assert pipeline(9_000.0, raw=36_000.0).ratio == pytest.approx(0.25)  # a rate: value / base


def test_goals_on_the_value_and_on_the_ratio_are_each_judged() -> None:
    assert pdf(15.0).met is True
    assert pdf(15.1).met is False
    fast_but_far_from_raw = pipeline(2_409.0)
    assert fast_but_far_from_raw.met is False
    assert fast_but_far_from_raw.verdicts() == "yes · **NO**"
    assert pipeline(9_000.0).met is True


def test_a_figure_without_a_goal_is_neither_met_nor_missed() -> None:
    context = Figure(2, "p50", 8.2, "ms", 4.0, "raw hop", higher_is_better=False)
    assert context.met is None
    assert context.verdicts() == "—"
    assert table.misses([context]) == []


def test_the_row_shows_value_goal_baseline_ratio_and_verdict() -> None:
    assert pipeline(2_409.0).row() == (
        "closed→drafted throughput (#2)",
        "2,409 jobs/s",
        "≥ 2,000 jobs/s · ratio ≥ 0.25×",
        "36,000 msg/s raw",
        "0.067×",
        "yes · **NO**",
    )


def test_figures_survive_the_trip_through_json() -> None:
    figure = pipeline(2_409.0)
    assert Figure.from_json(figure.to_json()) == figure


def test_the_tables_have_one_line_per_figure_and_name_each_miss() -> None:
    figures = [pdf(12.0), pipeline(2_409.0)]
    assert len(table.markdown(figures).splitlines()) == 2 + len(figures)
    assert len(table.text(figures).splitlines()) == 2 + len(figures)
    assert "**" not in table.text(figures)
    (miss,) = table.misses(figures)
    assert miss.startswith("MISSED: closed→drafted throughput (#2): 2,409 jobs/s")


def test_the_runner_tells_a_crash_from_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pdf misses its goal but ran; paypage measured nothing; notify exited non-zero."""
    outcomes = {"bench.pdf": (0, [pdf(40.0)]), "bench.paypage": (0, []), "bench.notify": (1, [])}

    def run(argv: list[str], env: dict[str, str], check: bool) -> Any:
        code, figures = outcomes[argv[-1]]
        with Path(env[table.FIGURES_FILE]).open("a", encoding="utf-8") as out:
            out.writelines(f.to_json() + "\n" for f in figures)
        return subprocess.CompletedProcess(argv, code)

    monkeypatch.setattr(subprocess, "run", run)
    figures, crashed = runner.run_all(["pdf", "paypage", "notify"], tmp_path / "figures.jsonl")
    assert figures == [pdf(40.0)]
    assert crashed == ["paypage", "notify"]


def test_the_runner_exit_status_is_zero_on_a_miss_and_one_on_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "LATEST", tmp_path / "latest.md")
    monkeypatch.setattr(runner, "run_all", lambda modules, path: ([pdf(40.0)], []))
    assert runner.main(["pdf"]) == 0
    written = (tmp_path / "latest.md").read_text("utf-8")
    assert "| invoice PDF render (#4) | 40.0 ms | ≤ 15 ms |" in written
    assert "Machine: " in written and "cores" in written
    monkeypatch.setattr(runner, "run_all", lambda modules, path: ([], ["pdf"]))
    assert runner.main(["pdf"]) == 1
    assert runner.main(["no-such-module"]) == 2
