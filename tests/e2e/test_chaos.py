"""The short chaos run of `make chaos`: jobs closed, drafts sent and a share paid by card and
bank debit while random processes die by kill -9 (at least 20 times), the broker (Tansu on
s3:// over SeaweedFS) is killed and restarted once and PostgreSQL crash-restarted once. Every
claim of the tally must hold: nothing lost, nothing twice, AR aging = open balances."""

from __future__ import annotations

import pytest

from shared.devstack import infra
from tests.chaos.run import run
from tests.chaos.workload import Plan

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]
JOBS = 64
KILLS = 20
EVERY_SECONDS = 2.0
SEED = 20261126


HOME = infra.ROOT / "var" / "test-chaos"
"""Under var/, not pytest's private temporary folder: PostgreSQL runs as its own user and must
reach its data directory for the restart."""


def test_nothing_lost_nothing_twice_under_kill9_and_restarts() -> None:
    outcome = run(Plan(JOBS, workers=12), HOME, KILLS, EVERY_SECONDS, SEED)
    print(outcome.table())
    missed = [r.claim for r in outcome.rows if not r.holds]
    assert not missed, f"missed: {missed}\n{outcome.table()}"
    assert outcome.facts["jobs closed"] == JOBS
