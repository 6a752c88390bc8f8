"""Retry counts are forgotten for partitions that move to another consumer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka.structs import TopicPartition

from shared.consumer import _ForgetRevokedAttempts

pytestmark = pytest.mark.unit


def test_revoking_a_partition_forgets_its_retry_counts_only() -> None:
    error = RuntimeError("boom")
    owner = SimpleNamespace(
        attempts={("JobClosed", 0, 5): (2, error), ("JobClosed", 1, 9): (1, error)}
    )
    listener = _ForgetRevokedAttempts(cast(Any, owner))

    listener.on_partitions_revoked([TopicPartition("JobClosed", 0)])

    assert owner.attempts == {("JobClosed", 1, 9): (1, error)}
