"""Whole-request admission: slots handed out FIFO, refusals by deadline before any
queueing, and the cost measure that drives them (:mod:`gateway.admission`)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.admission import Admission, RequestSlot, work_units
from tts_common.errors import RETRY_AFTER_MS_HEADER, Overloaded


def _measured(admission: Admission, seconds_per_unit: float) -> None:
    """Give ``admission`` a cost measure, as a completed request would."""
    admission._unit_s = seconds_per_unit  # the EWMA's seed


def test_work_units_are_symbols_over_speed() -> None:
    assert work_units("a b c d", 2.0) == 2.0
    assert work_units("a b c", 1.0) == 3.0


async def test_free_slots_admit_at_once_and_leaving_measures_cost() -> None:
    admission = Admission(slots=2, max_waiting=0)
    first = await admission.enter(10, remaining_s=0.001)
    await admission.enter(10, remaining_s=0.001)
    assert admission.running == 2
    await asyncio.sleep(0.01)
    admission.leave(first, work_done=10)
    assert admission.running == 1
    cost = admission.seconds_per_unit
    assert cost is not None and cost >= 0.001


async def test_unmeasured_requests_do_not_queue() -> None:
    """Before a cost is measured a wait cannot be judged: past the slots, refused."""
    admission = Admission(slots=1, max_waiting=8)
    await admission.enter(1, remaining_s=1.0)
    with pytest.raises(Overloaded, match="at capacity"):
        await admission.enter(1, remaining_s=100.0)
    assert admission.waiting == 0


async def test_measured_requests_queue_until_the_queue_is_full() -> None:
    admission = Admission(slots=1, max_waiting=1)
    _measured(admission, 0.001)
    held = await admission.enter(1, remaining_s=1.0)
    queued = asyncio.create_task(admission.enter(1, remaining_s=1.0))
    await asyncio.sleep(0)
    assert admission.waiting == 1
    with pytest.raises(Overloaded, match="at capacity") as refused:
        await admission.enter(1, remaining_s=1.0)
    assert refused.value.trailing_metadata[0][0] == RETRY_AFTER_MS_HEADER
    admission.leave(held, None)
    await queued
    assert admission.running == 1 and admission.waiting == 0


async def test_a_request_that_cannot_finish_in_time_is_refused_without_queueing() -> (
    None
):
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.1)
    await admission.enter(20, remaining_s=10.0)  # holds the slot ~2 s
    with pytest.raises(Overloaded, match="slot frees in about") as refused:
        await admission.enter(5, remaining_s=2.0)  # needs ~2 s + 0.5 s
    assert admission.waiting == 0
    retry_ms = int(dict(refused.value.trailing_metadata)[RETRY_AFTER_MS_HEADER])
    assert 1000 <= retry_ms <= 2000
    # With a deadline that covers the wait and the work, it queues.
    waiting = asyncio.create_task(admission.enter(5, remaining_s=10.0))
    await asyncio.sleep(0)
    assert admission.waiting == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert admission.waiting == 0


async def test_the_wait_simulates_the_queue_on_every_slot() -> None:
    admission = Admission(slots=2, max_waiting=8)
    _measured(admission, 1.0)
    await admission.enter(4, remaining_s=100)  # frees at ~4
    await admission.enter(1, remaining_s=100)  # frees at ~1
    queued = [asyncio.create_task(admission.enter(w, 100)) for w in (2, 3)]
    await asyncio.sleep(0)
    # Slot B: 1 -> +2 = 3; then min(4, 3) = 3 -> +3 = 6. Next free: min(4, 6).
    assert admission.estimated_wait_s() == pytest.approx(4.0, abs=0.05)
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)


async def test_slots_go_to_waiters_in_order_and_not_to_late_arrivals() -> None:
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 1.0)
    held = await admission.enter(1, remaining_s=10)
    order: list[int] = []

    async def wait(n: int) -> None:
        slot = await admission.enter(1, remaining_s=10)
        order.append(n)
        admission.leave(slot, None)

    tasks = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    admission.leave(held, None)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    held = await admission.enter(1, remaining_s=10)
    alone = asyncio.create_task(wait(7))
    await asyncio.sleep(0)
    admission.leave(held, None)  # the queue is empty again after this grant
    # The slot is the waiter's from the grant on: a newcomer must not take it.
    assert admission.running == 1
    assert admission.estimated_wait_s() > 0
    await alone
    assert order == [0, 1, 2, 7]
    assert admission.running == 0


async def test_a_waiter_cancelled_after_its_grant_passes_the_slot_on() -> None:
    admission = Admission(slots=1, max_waiting=8)
    _measured(admission, 0.001)
    held = await admission.enter(1, remaining_s=10)
    first = asyncio.create_task(admission.enter(1, remaining_s=10))
    second = asyncio.create_task(admission.enter(1, remaining_s=10))
    await asyncio.sleep(0)
    admission.leave(held, None)  # granted to ``first`` ...
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
    admission.leave(held, None)
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
    assert held.expected_s == pytest.approx(0.005)  # units 3 + 2
    slot.release(completed=True)
    slot.release(completed=True)  # idempotent
    assert admission.running == 0
    assert admission.seconds_per_unit is not None


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(slots=0, max_waiting=1)
    with pytest.raises(ValueError):
        Admission(slots=1, max_waiting=-1)
