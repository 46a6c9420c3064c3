"""Whole-request admission by deadline: the requests let in finish on time.

The stages refuse a call they cannot finish in its deadline, but a request is many
calls: under overload each sentence's call may be admitted and yet the request, its
later sentences queued behind everyone else's, misses its deadline. Worse, every
request let in slows the others, so past capacity nobody finishes (goodput 0).

So the gateway runs at most ``slots`` requests through the models at once (cached
sentences need no slot), and the rest wait in a FIFO queue of ``max_waiting``. A
request asks for a slot at its first cache miss, with the work it may still need:
its remaining sentences' symbols divided by their speed ("work units"). The
gateway measures how many seconds a unit takes while a slot is held (an EWMA over
requests that completed), simulates the queue ahead to find when a slot frees for
this request, and refuses at once (RESOURCE_EXHAUSTED, ``retry-after-ms`` the wait)
when the wait plus its own work would pass its deadline. Before the first
measurement nothing queues: requests past the free slots are refused.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from tts_common.errors import Overloaded

__all__ = ["COST_WEIGHT", "Admission", "RequestSlot", "work_units"]

COST_WEIGHT = 0.2
"""Weight of the newest request in the seconds-per-unit EWMA."""


def work_units(symbols: str, speed: float) -> float:
    """A sentence's work: its symbol count over its speed."""
    return len(symbols.split()) / speed


@dataclass(eq=False)
class _Held:
    """A request holding a slot."""

    started: float
    expected_s: float


@dataclass(eq=False)
class _Waiter:
    expected_s: float
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
        self._unit_s: float | None = None

    @property
    def seconds_per_unit(self) -> float | None:
        """Measured seconds a work unit takes in a slot; None before any."""
        return self._unit_s

    @property
    def running(self) -> int:
        """Requests holding a slot."""
        return len(self._held)

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._queue)

    def expected_s(self, work: float) -> float:
        """Seconds ``work`` units should take in a slot (0 before a measurement)."""
        return work * (self._unit_s or 0.0)

    def estimated_wait_s(self) -> float:
        """When a slot would free for a request queued now: the queue ahead
        simulated FIFO on the slots, each running request needing its expected time
        less what it has run."""
        now = time.monotonic()
        free_at = [max(0.0, h.expected_s - (now - h.started)) for h in self._held]
        free_at += [0.0] * (self.slots - len(free_at))
        heapq.heapify(free_at)
        for waiter in self._queue:
            heapq.heappush(free_at, heapq.heappop(free_at) + waiter.expected_s)
        return free_at[0]

    async def enter(self, work: float, remaining_s: float) -> _Held:
        """A slot for ``work`` units, or a refusal now.

        Raises:
            Overloaded: The wait plus the work would pass ``remaining_s``, the queue
                is full, or the wait outlived the deadline's slack.
        """
        expected = self.expected_s(work)
        if len(self._held) < self.slots and not self._queue:
            return self._hold(expected)
        wait = self.estimated_wait_s()
        retry_ms = max(1, math.ceil(wait * 1000))
        # Unmeasured, a wait cannot be judged against a deadline: no queue yet.
        limit = self.max_waiting if self._unit_s is not None else 0
        if len(self._queue) >= limit:
            raise Overloaded(
                f"the gateway is at capacity ({self.running} requests synthesizing, "
                f"{self.waiting} queued); retry later",
                retry_after_ms=retry_ms,
            )
        if wait + expected > remaining_s:
            raise Overloaded(
                f"the gateway is overloaded: a slot frees in about {wait:.2f} s and "
                f"this text needs about {expected:.2f} s more, past the deadline's "
                f"remaining {max(0.0, remaining_s):.2f} s; retry later or with a "
                "longer deadline",
                retry_after_ms=retry_ms,
            )
        waiter = _Waiter(expected)
        self._queue.append(waiter)
        started = time.monotonic()
        try:
            held = await waiter.granted
        except BaseException:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.leave(waiter.granted.result(), None)  # granted as we left
            else:
                self._queue.remove(waiter)
            raise
        left = remaining_s - (time.monotonic() - started)
        if expected > left:
            self.leave(held, None)
            raise Overloaded(
                f"the gateway is overloaded: waited for a slot until only {left:.2f} "
                f"s of the deadline remained, less than the {expected:.2f} s this "
                "text needs; retry later or with a longer deadline",
                retry_after_ms=retry_ms,
            )
        return held

    def _hold(self, expected: float) -> _Held:
        held = _Held(time.monotonic(), expected)
        self._held.add(held)
        return held

    def leave(self, held: _Held, work_done: float | None) -> None:
        """Free ``held``'s slot; ``work_done`` units (None: the request did not
        complete) feed the cost measure."""
        if held not in self._held:
            return
        self._held.discard(held)
        if work_done:
            took = time.monotonic() - held.started
            sample = took / work_done
            last = self._unit_s
            self._unit_s = (
                sample if last is None else last + COST_WEIGHT * (sample - last)
            )
        self._next()

    def _next(self) -> None:
        """Hand free slots to the first waiters still waiting (the slot is theirs
        from now: nobody arriving meanwhile can take it)."""
        while self._queue and len(self._held) < self.slots:
            waiter = self._queue.popleft()
            if not waiter.granted.done():
                waiter.granted.set_result(self._hold(waiter.expected_s))


class RequestSlot:
    """One request's claim on an :class:`Admission` slot: taken at its first cache
    miss (with the work of every sentence from there on), kept to its end."""

    def __init__(self, admission: Admission, units: Mapping[int, float]) -> None:
        """``units``: each sentence's work by sentence index, in order."""
        self._admission, self._units = admission, dict(units)
        self._held: _Held | None = None
        self._lock = asyncio.Lock()
        self._done_units = 0.0

    async def acquire(self, index: int, remaining_s: float) -> None:
        """Hold a slot before sentence ``index`` runs the models (once per request).

        Raises:
            Overloaded: Refused; see :meth:`Admission.enter`.
        """
        self._done_units += self._units[index]
        async with self._lock:
            if self._held is None:
                work = sum(u for i, u in self._units.items() if i >= index)
                self._held = await self._admission.enter(work, remaining_s)

    def release(self, completed: bool) -> None:
        """Give the slot back; a completed request's time feeds the cost measure."""
        if self._held is not None:
            self._admission.leave(self._held, self._done_units if completed else None)
            self._held = None
