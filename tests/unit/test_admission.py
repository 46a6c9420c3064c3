"""Whole-request admission: slots handed out FIFO, refusals by deadline before any
queueing, and the cost measure that drives them (:mod:`gateway.admission`)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.admission import (
    SAMPLE_UNITS,
    Admission,
    RequestSlot,
    work_units,
)
from tts_common.errors import RETRY_AFTER_MS_HEADER, Overloaded


def _measured(admission: Admission, seconds_per_unit: float) -> None:
    """Give ``admission`` a cost measure, as finished sentences would."""
    admission._cost = seconds_per_unit  # the EWMA's state, set directly


def _retry_ms(err: Overloaded) -> int:
    return int(dict(err.trailing_metadata)[RETRY_AFTER_MS_HEADER])


def test_work_units_are_symbols_over_speed() -> None:
    assert work_units("a b c d", 2.0) == 2.0
    assert work_units("a b c", 1.0) == 3.0


async def test_the_cost_is_busy_time_per_unit_completed() -> None:
    admission = Admission(slots=2, max_waiting=0)
    first = await admission.enter(10 * SAMPLE_UNITS, remaining_s=0.001)
    await asyncio.sleep(0.05)
    admission.progress(first, SAMPLE_UNITS)
    cost = admission.seconds_per_unit
    assert cost is not None and cost >= 0.05 / SAMPLE_UNITS
    # Idle time (nothing held) is not busy time.
    admission.leave(first)
    await asyncio.sleep(0.05)
    again = await admission.enter(SAMPLE_UNITS, remaining_s=10)
    admission.progress(again, SAMPLE_UNITS)
    assert admission.seconds_per_unit is not None
    assert admission.seconds_per_unit < 2 * cost


async def test_unmeasured_requests_do_not_queue() -> None:
    """Before a cost is measured a wait cannot be judged: past the slots, refused."""
    admission = Admission(slots=1, max_waiting=8)
    await admission.enter(1, remaining_s=1.0)
    with pytest.raises(Overloaded, match="at capacity"):
        await admission.enter(1, remaining_s=100.0)
    assert admission.waiting == 0


async def test_when_nothing_runs_one_request_is_always_let_in() -> None:
    """However pessimistic the measure, an idle gateway lets a request through
    (its sentences then correct the measure)."""
    admission = Admission(slots=1, max_waiting=0)
    _measured(admission, 100.0)
    held = await admission.enter(10, remaining_s=1.0)
    assert admission.running == 1
    admission.leave(held)


async def test_a_request_that_cannot_finish_in_time_is_refused_without_queueing() -> (
    None
):
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.1)
    await admission.enter(20, remaining_s=10.0)  # 2 s of backlog
    with pytest.raises(Overloaded, match=r"would finish in about 3\.00 s") as refused:
        await admission.enter(5, remaining_s=2.0)  # needs (2 + 0.5) x 1.2 s
    assert admission.waiting == 0
    assert 400 <= _retry_ms(refused.value) <= 2500
    # With a deadline that covers the backlog and its work, it queues.
    waiting = asyncio.create_task(admission.enter(5, remaining_s=10.0))
    await asyncio.sleep(0)
    assert admission.waiting == 1
    assert admission.backlog_s() == pytest.approx(2.5)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert admission.waiting == 0


async def test_a_free_slot_is_refused_when_running_requests_would_be_late() -> None:
    admission = Admission(slots=4, max_waiting=8)
    _measured(admission, 0.1)
    await admission.enter(10, remaining_s=1.5)  # 1 s of work, 1.5 s to do it
    with pytest.raises(Overloaded, match="running miss their deadlines"):
        await admission.enter(10, remaining_s=30.0)  # together: 2.4 s > 1.5 s
    await admission.enter(2, remaining_s=30.0)  # together 1.44 s: fits
    assert admission.running == 2


async def test_progress_shrinks_the_backlog() -> None:
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.1)
    held = await admission.enter(20, remaining_s=10.0)
    assert admission.backlog_s() == pytest.approx(2.0)
    admission.progress(held, 15)
    assert admission.backlog_s() == pytest.approx(0.5, abs=0.2)  # cost may move


async def test_measured_requests_queue_until_the_queue_is_full() -> None:
    admission = Admission(slots=1, max_waiting=1)
    _measured(admission, 0.001)
    held = await admission.enter(1, remaining_s=1.0)
    queued = asyncio.create_task(admission.enter(1, remaining_s=1.0))
    await asyncio.sleep(0)
    assert admission.waiting == 1
    with pytest.raises(Overloaded, match="at capacity") as refused:
        await admission.enter(1, remaining_s=1.0)
    assert _retry_ms(refused.value) >= 1
    admission.leave(held)
    await queued
    assert admission.running == 1 and admission.waiting == 0


async def test_slots_go_to_waiters_in_order_and_not_to_late_arrivals() -> None:
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.01)
    held = await admission.enter(1, remaining_s=10)
    order: list[int] = []

    async def wait(n: int) -> None:
        slot = await admission.enter(1, remaining_s=10)
        order.append(n)
        admission.leave(slot)

    tasks = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    admission.leave(held)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    held = await admission.enter(1, remaining_s=10)
    alone = asyncio.create_task(wait(7))
    await asyncio.sleep(0)
    admission.leave(held)  # the queue is empty again after this grant
    # The slot is the waiter's from the grant on: a newcomer must not take it.
    assert admission.running == 1
    await alone
    assert order == [0, 1, 2, 7]


async def test_a_waiter_cancelled_after_its_grant_passes_the_slot_on() -> None:
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.001)
    held = await admission.enter(1, remaining_s=10)
    first = asyncio.create_task(admission.enter(1, remaining_s=10))
    second = asyncio.create_task(admission.enter(1, remaining_s=10))
    await asyncio.sleep(0)
    admission.leave(held)  # granted to ``first`` ...
    first.cancel()  # ... which leaves before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1.0)
    assert admission.running == 1


async def test_a_waiter_left_without_time_for_its_work_is_refused() -> None:
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.01)
    held = await admission.enter(1, remaining_s=10)  # expected 0.01 s, runs longer
    late = asyncio.create_task(admission.enter(10, remaining_s=0.15))  # needs 0.1 s
    await asyncio.sleep(0.1)
    admission.leave(held)
    with pytest.raises(Overloaded, match="waited for a slot"):
        await late
    assert admission.running == 0


async def test_request_slot_takes_one_slot_for_the_rest_of_the_request() -> None:
    admission = Admission(slots=1, max_waiting=0)
    _measured(admission, 0.001)
    slot = RequestSlot(admission, {0: 5.0, 1: 3.0, 2: 2.0})
    await slot.acquire(1, remaining_s=10)  # sentence 0 was cached
    await slot.acquire(2, remaining_s=10)
    assert admission.running == 1
    (held,) = admission._held
    assert held.work == 5.0  # units 3 + 2
    slot.finished(1)
    assert held.done == 3.0
    slot.release("completed")
    slot.release("completed")  # idempotent
    assert admission.running == 0


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(slots=0, max_waiting=1)
    with pytest.raises(ValueError):
        Admission(slots=1, max_waiting=-1)


async def test_precheck_refuses_before_any_work_when_nothing_could_fit() -> None:
    admission = Admission(slots=1, max_waiting=1)
    admission.precheck(0.001)  # unmeasured or idle: never refused here
    _measured(admission, 0.1)
    await admission.enter(20, remaining_s=10.0)  # 2 s of backlog (2.4 s stretched)
    admission.precheck(3.0)
    with pytest.raises(Overloaded, match="would finish"):
        admission.precheck(2.0)
    queued = asyncio.create_task(admission.enter(1, remaining_s=10.0))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded, match="at capacity"):
        admission.precheck(100.0)
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)


def test_a_spread_cost_is_counted_high() -> None:
    """Admission counts the mean cost plus its spread: varied sentences must not
    make a request let in miss its deadline."""
    steady, varied = Admission(1, 0), Admission(1, 0)
    for admission, samples in ((steady, [0.1] * 6), (varied, [0.05, 0.15] * 3)):
        for sample in samples:
            admission._busy_s += sample * SAMPLE_UNITS
            admission._sample_units = SAMPLE_UNITS
            admission._sample()
    assert steady.seconds_per_unit == pytest.approx(0.1)
    assert varied.seconds_per_unit is not None
    assert varied.seconds_per_unit > 0.15


async def test_precheck_counts_the_least_work_the_text_can_make() -> None:
    admission = Admission(slots=4, max_waiting=8)
    _measured(admission, 0.1)
    await admission.enter(10, remaining_s=100.0)  # 1 s of backlog
    admission.observe_text(chars=10, work=30)  # 3 units a character ...
    admission.observe_text(chars=10, work=20)  # ... or 2: the least is kept
    admission.precheck(4.0, chars=10)  # (1 + 20 x 0.1) x 1.2 = 3.6 s: fits
    with pytest.raises(Overloaded, match="would finish"):
        admission.precheck(3.5, chars=10)


async def test_time_wasted_by_a_failure_does_not_raise_the_cost() -> None:
    """A stage that dies fails the requests in flight: that busy time says
    nothing about speed (an outage must not turn into refusals for overload),
    while running out of time does."""
    costs = {}
    for outcome in ("wasted", "slow"):
        admission = Admission(slots=2, max_waiting=0)
        _measured(admission, 0.001)
        held = await admission.enter(SAMPLE_UNITS, remaining_s=10)
        await asyncio.sleep(0.05)  # 0.0025 s a unit, were it counted
        admission.leave(held, outcome)
        probe = await admission.enter(SAMPLE_UNITS, remaining_s=10)
        admission.progress(probe, SAMPLE_UNITS)  # closes the sample at once
        costs[outcome] = admission.seconds_per_unit or 0.0
    assert costs["wasted"] < 0.002 < costs["slow"]
