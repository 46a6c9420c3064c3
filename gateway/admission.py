"""Whole-request admission by deadline: the requests let in finish on time.

The stages refuse a call they cannot finish in its deadline, but a request is many
calls: under overload each sentence's call may be admitted and yet the request, its
later sentences queued behind everyone else's, misses its deadline. Worse, every
request let in slows the others, so past capacity nobody finishes (goodput 0).

So the gateway runs at most ``slots`` requests through the models at once (cached
sentences need no slot), and the rest wait in a FIFO queue of ``max_waiting``. A
request asks for a slot at its first cache miss, with the work it may still need:
its remaining sentences' symbols divided by their speed ("work units").

The stages behind the gateway are shared machines, so they are modelled as one
server of measured *cost*: seconds of busy time per unit of work completed (the
inverse of throughput, measured while any slot is held, from the sentences that
finish; time spent on work that never finished counts too, so failures raise it).
A request can finish by ``(work not yet done in the system + its own) x cost``;
it is refused at once (RESOURCE_EXHAUSTED, ``retry-after-ms``) when that passes its
deadline, or, taking a free slot, the deadline of a request already running (it
would share their machines). Nothing is refused while nothing runs (how the measure
recovers), and before the first measurement nothing queues.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from tts_common.errors import Overloaded

__all__ = ["COST_WEIGHT", "Admission", "RequestSlot", "work_units"]

COST_WEIGHT = 0.3
"""Weight of the newest sample in the cost EWMA."""
SAMPLE_UNITS = 20.0
"""Work completed per cost sample (about one short sentence)."""
SAFETY = 1.2
"""Estimates are stretched by this much on top of the cost's spread (below)."""
DEVIATIONS = 2.0
"""The cost used for admission is the measured mean plus this many mean absolute
deviations: sentences differ (their symbols last more or less), and a request let
in that then misses its deadline is the worst outcome."""


def work_units(symbols: str, speed: float) -> float:
    """A sentence's work: its symbol count over its speed."""
    return len(symbols.split()) / speed


@dataclass(eq=False)
class _Held:
    """A request holding a slot (or granted one)."""

    work: float
    deadline: float
    """``time.monotonic()`` by which it must end."""
    done: float = 0.0
    """Units of its work completed so far."""


@dataclass(eq=False)
class _Waiter:
    work: float
    deadline: float
    granted: asyncio.Future[_Held] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Admission:
    """Slots for synthesis, handed out FIFO to requests that can finish in time."""

    def __init__(self, slots: int, max_waiting: int) -> None:
        """``slots`` requests synthesize at once; ``max_waiting`` more may queue.

        Raises:
            ValueError: ``slots < 1`` or ``max_waiting < 0``.
        """
        if slots < 1 or max_waiting < 0:
            raise ValueError("slots must be >= 1 and max_waiting >= 0")
        self.slots, self.max_waiting = slots, max_waiting
        self._held: set[_Held] = set()
        self._queue: deque[_Waiter] = deque()
        self._cost: float | None = None
        self._spread = 0.0
        self._units_per_char: float | None = None
        self._busy_s = 0.0
        self._mark = time.monotonic()
        self._sample_busy_s = 0.0
        self._sample_units = 0.0

    @property
    def seconds_per_unit(self) -> float | None:
        """Busy seconds per unit of work, as admission counts it (the measured
        mean plus ``DEVIATIONS`` mean absolute deviations); None before any."""
        if self._cost is None:
            return None
        return self._cost + DEVIATIONS * self._spread

    @property
    def running(self) -> int:
        """Requests holding a slot."""
        return len(self._held)

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._queue)

    def backlog_s(self) -> float:
        """Seconds the work not yet done (running and queued) should take."""
        held = sum(max(0.0, h.work - h.done) for h in self._held)
        return (held + sum(w.work for w in self._queue)) * (
            self.seconds_per_unit or 0.0
        )

    async def enter(self, work: float, remaining_s: float) -> _Held:
        """A slot for ``work`` units, or a refusal now.

        Raises:
            Overloaded: The request (or one running) could not finish in time, the
                queue is full, or it waited until its deadline could not be met.
        """
        now = time.monotonic()
        deadline = now + remaining_s
        if not self._held and not self._queue:
            return self._hold(work, deadline)  # nothing runs: always let one in
        cost = self.seconds_per_unit
        if cost is None:  # unmeasured: a wait cannot be judged, so no queue
            if len(self._held) < self.slots and not self._queue:
                return self._hold(work, deadline)
            raise self._refusal("at capacity", 0.0, remaining_s)
        need = (self.backlog_s() + work * cost) * SAFETY
        if need > remaining_s:
            raise self._refusal("late", need, remaining_s)
        if len(self._held) < self.slots and not self._queue:
            # It would share the machines with the running requests: they must
            # still make their deadlines too.
            if any(now + need > h.deadline for h in self._held):
                raise self._refusal("others", need, remaining_s)
            return self._hold(work, deadline)
        if len(self._queue) >= self.max_waiting:
            raise self._refusal("at capacity", need, remaining_s)
        waiter = _Waiter(work, deadline)
        self._queue.append(waiter)
        try:
            held = await waiter.granted
        except BaseException:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.leave(waiter.granted.result(), "wasted")
            else:
                self._queue.remove(waiter)
            raise
        left = deadline - time.monotonic()
        if work * cost > left:
            self.leave(held, "wasted")
            raise self._refusal("waited", work * cost, left)
        return held

    def precheck(self, remaining_s: float, chars: int = 0) -> None:
        """Refuse now a request that will need the models and could not be let in:
        the backlog plus the work its ``chars`` characters usually make (learnt
        from earlier analyses, at the smallest rate seen) outlasts its deadline, or
        every slot and the queue are taken. Called before the analysis, so that
        past capacity a refusal costs no frontend work.

        Raises:
            Overloaded: As :meth:`enter` would, later and at a higher cost.
        """
        cost = self.seconds_per_unit
        if cost is None or not self._held:
            return
        least_work = chars * (self._units_per_char or 0.0)
        need = (self.backlog_s() + least_work * cost) * SAFETY
        if need >= remaining_s:
            raise self._refusal("late", need, remaining_s)
        if len(self._held) >= self.slots and len(self._queue) >= self.max_waiting:
            raise self._refusal("at capacity", need, remaining_s)

    def observe_text(self, chars: int, work: float) -> None:
        """An analysis found ``work`` units in ``chars`` characters. The precheck
        uses the smallest rate seen, so it never refuses what would fit."""
        if chars > 0 and work > 0:
            rate = work / chars
            if self._units_per_char is None or rate < self._units_per_char:
                self._units_per_char = rate

    def _refusal(self, why: str, need: float, remaining_s: float) -> Overloaded:
        retry_ms = max(1, math.ceil(max(need - remaining_s, self.backlog_s()) * 1000))
        text = {
            "at capacity": f"the gateway is at capacity ({self.running} requests "
            f"synthesizing, {self.waiting} queued); retry later",
            "late": f"the gateway is overloaded: this text would finish in about "
            f"{need:.2f} s, past the deadline's remaining {max(0.0, remaining_s):.2f}"
            " s; retry later or with a longer deadline",
            "others": f"the gateway is overloaded: starting this text now (about "
            f"{need:.2f} s) would make requests already running miss their "
            "deadlines; retry later",
            "waited": f"the gateway is overloaded: waited for a slot until only "
            f"{max(0.0, remaining_s):.2f} s of the deadline remained, less than the "
            f"{need:.2f} s this text needs; retry later or with a longer deadline",
        }[why]
        return Overloaded(text, retry_after_ms=retry_ms)

    def _tick(self) -> None:
        """Account busy time up to now (busy: any slot held)."""
        now = time.monotonic()
        if self._held:
            self._busy_s += now - self._mark
        self._mark = now

    def _hold(self, work: float, deadline: float) -> _Held:
        self._tick()
        held = _Held(work, deadline)
        self._held.add(held)
        return held

    def progress(self, held: _Held, units: float) -> None:
        """``units`` of ``held``'s work completed: count them toward the cost."""
        self._tick()
        held.done += units
        self._sample_units += units
        if self._sample_units >= SAMPLE_UNITS:
            self._sample()

    def _sample(self) -> None:
        """Fold the busy time since the last sample, per unit completed, in."""
        sample = (self._busy_s - self._sample_busy_s) / self._sample_units
        self._sample_busy_s, self._sample_units = self._busy_s, 0.0
        last = self._cost
        if last is None:
            self._cost = sample
            return
        self._spread += COST_WEIGHT * (abs(sample - last) - self._spread)
        self._cost = last + COST_WEIGHT * (sample - last)

    def leave(self, held: _Held, outcome: str = "completed") -> None:
        """Free ``held``'s slot, learning from how the request ended.

        ``"completed"`` closes the current cost sample (short texts may not reach
        ``SAMPLE_UNITS``). ``"slow"`` (it ran out of time) keeps its busy time in
        the sample, though no unit was completed: that raises the cost, which is
        how a measure made at light load learns overload. ``"wasted"`` (a stage
        failed, the caller left) says nothing about speed: the open sample is
        dropped, so an outage is not mistaken for overload.
        """
        if held not in self._held:
            return
        self._tick()
        self._held.discard(held)
        if outcome == "completed" and self._sample_units > 0:
            self._sample()
        elif outcome == "wasted":
            self._sample_busy_s, self._sample_units = self._busy_s, 0.0
        self._next()

    def _next(self) -> None:
        """Hand free slots to the first waiters still waiting (the slot is theirs
        from now: nobody arriving meanwhile can take it)."""
        while self._queue and len(self._held) < self.slots:
            waiter = self._queue.popleft()
            if not waiter.granted.done():
                waiter.granted.set_result(self._hold(waiter.work, waiter.deadline))


class RequestSlot:
    """One request's claim on an :class:`Admission` slot: taken at its first cache
    miss (with the work of every sentence from there on), kept to its end."""

    def __init__(self, admission: Admission, units: Mapping[int, float]) -> None:
        """``units``: each sentence's work by sentence index, in order."""
        self._admission, self._units = admission, dict(units)
        self._held: _Held | None = None
        self._lock = asyncio.Lock()

    async def acquire(self, index: int, remaining_s: float) -> None:
        """Hold a slot before sentence ``index`` runs the models (once per request).

        Raises:
            Overloaded: Refused; see :meth:`Admission.enter`.
        """
        async with self._lock:
            if self._held is None:
                work = sum(u for i, u in self._units.items() if i >= index)
                self._held = await self._admission.enter(work, remaining_s)

    def finished(self, index: int) -> None:
        """Sentence ``index`` ran the models to its end."""
        if self._held is not None:
            self._admission.progress(self._held, self._units[index])

    def release(self, outcome: str) -> None:
        """Give the slot back; ``outcome`` as :meth:`Admission.leave` takes it."""
        if self._held is not None:
            self._admission.leave(self._held, outcome)
            self._held = None
