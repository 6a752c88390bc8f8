"""Fault injection for the kill -9 tests: a process configured with CRASH_AT=point:probability
SIGKILLs itself when it reaches that point, exactly as `kill -9` would, at the worst moment."""

from __future__ import annotations

import os
import random
import signal
from functools import cache


@cache
def _armed() -> dict[str, float]:
    points: dict[str, float] = {}
    for part in os.environ.get("CRASH_AT", "").split(","):
        if ":" in part:
            name, probability = part.split(":", 1)
            points[name.strip()] = float(probability)
    return points


def crash_point(name: str) -> None:
    """Die here, with SIGKILL, if this point is armed and the dice say so."""
    probability = _armed().get(name)
    if probability and random.random() < probability:
        os.kill(os.getpid(), signal.SIGKILL)
