"""The rate limits' storage: counts from many request threads at once, never a crash."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from shared.limits import ThreadSafeMemoryStorage, limiter_for

pytestmark = pytest.mark.unit


def test_the_limiter_counts_in_the_thread_safe_storage() -> None:
    limiter = limiter_for(Flask("x"), trusted_proxies=0)
    assert isinstance(limiter._storage, ThreadSafeMemoryStorage)


def test_many_threads_counting_at_once_start_one_expiry_timer_and_lose_no_count() -> None:
    storage = ThreadSafeMemoryStorage()
    starting: list[int] = [0, 0]  # [now, most at once]
    original = threading.Timer.start
    count_lock = threading.Lock()

    def counted_start(timer: threading.Timer) -> None:
        with count_lock:
            starting[0] += 1
            starting[1] = max(starting)
        time.sleep(0.05)  # widens the gap between "is the timer alive?" and its start
        with count_lock:
            starting[0] -= 1
        original(timer)

    errors: list[BaseException] = []
    barrier = threading.Barrier(32)

    def hit() -> None:
        barrier.wait()
        try:
            storage.incr("k", 60)
        except BaseException as exc:  # the race the lock prevents
            errors.append(exc)

    threading.Timer.start = counted_start  # type: ignore[method-assign,assignment]
    try:
        threads = [threading.Thread(target=hit) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        threading.Timer.start = original  # type: ignore[method-assign]
    assert errors == [] and storage.get("k") == 32
    assert starting[1] <= 1  # expiry timers are started one at a time, never two at once
