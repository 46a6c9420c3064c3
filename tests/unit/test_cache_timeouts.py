"""The Redis budget follows measured latencies between its floor and ceiling."""

from __future__ import annotations

import pytest

from gateway.cache.timeouts import AdaptiveTimeout


def test_starts_at_the_floor_and_stays_there_while_redis_is_fast() -> None:
    timeout = AdaptiveTimeout(0.1, 1.0)
    assert timeout.seconds == 0.1
    for _ in range(50):
        timeout.observe(0.0005)
    assert timeout.seconds == 0.1


def test_grows_with_a_busy_loop_and_comes_back_down() -> None:
    timeout = AdaptiveTimeout(0.1, 1.0)
    for latency in (0.05, 0.09, 0.2, 0.15, 0.25, 0.12) * 5:
        timeout.observe(latency)
    busy = timeout.seconds
    assert 0.25 < busy <= 1.0  # the slow answers of a loaded host now fit
    for _ in range(200):
        timeout.observe(0.001)
    assert timeout.seconds == pytest.approx(0.1)


def test_a_timeout_doubles_the_budget_up_to_the_ceiling() -> None:
    timeout = AdaptiveTimeout(0.1, 0.5)
    timeout.timed_out()
    assert timeout.seconds == pytest.approx(0.2)
    timeout.timed_out()
    timeout.timed_out()
    assert timeout.seconds == 0.5


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        AdaptiveTimeout(0.0, 1.0)
    with pytest.raises(ValueError):
        AdaptiveTimeout(0.5, 0.1)
