"""`make load` fails on a missed goal: the rate, any error, either group's p99 (bench/load.py)."""

from __future__ import annotations

from typing import Any

from bench.load import table, verdicts


def outcome(rps: float = 199.0, failures: int = 0, staff_p99: float = 150.0) -> dict[str, Any]:
    def entry(name: str, p99: float, requests: int = 6000) -> dict[str, Any]:
        return {
            "name": name,
            "requests": requests,
            "failures": 0,
            "rps": requests / 60,
            "p50": 10.0,
            "p95": 50.0,
            "p99": p99,
        }

    return {
        "seconds": 60.0,
        "pages": [entry("staff: queue", staff_p99), entry("pay: page", 90.0)],
        "groups": [entry("staff", staff_p99), entry("pay", 90.0)],
        "total": {**entry("total", 120.0, int(rps * 60)), "failures": failures},
        "errors": [],
        "errors_before_window": [],
        "cpu": {"locust": 0.1, "platform": 1.2, "machine": 1.4, "cores": 2.0},
        "signed_in": 60,
    }


def met(found: dict[str, Any]) -> list[bool]:
    return [ok for _, ok in verdicts(found, 200.0)]


def test_every_goal_met() -> None:
    assert met(outcome()) == [True, True, True, True]


def test_each_miss_fails_its_own_check() -> None:
    assert met(outcome(rps=190.0)) == [False, True, True, True]
    assert met(outcome(failures=1)) == [True, False, True, True]
    assert met(outcome(staff_p99=200.0)) == [True, True, False, True]


def test_a_group_that_served_nothing_is_a_miss() -> None:
    found = outcome()
    found["groups"][1]["requests"] = 0
    assert met(found)[3] is False


def test_the_table_names_both_groups_and_the_rates() -> None:
    text = "\n".join(table(outcome(), 200.0))
    assert "STAFF APP" in text and "PAY PAGE" in text
    assert "offered 200 req/s, achieved 199.0 req/s" in text
