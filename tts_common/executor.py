"""A bounded thread pool for inference: work off the event loop, refused when full."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from tts_common.errors import DeadlineExceeded, Overloaded

__all__ = ["SERVICE_TIME_WEIGHT", "BoundedExecutor"]

SERVICE_TIME_WEIGHT = 0.2
"""Weight of the newest job in the service-time EWMA (the first job sets it)."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


class BoundedExecutor:
    """Runs blocking inference in worker threads, with a hard cap on waiting work.

    At most ``max_workers`` jobs run and ``max_queue`` more wait; a submission beyond
    that raises :class:`~tts_common.errors.Overloaded` (RESOURCE_EXHAUSTED) at once,
    so callers back off instead of queueing without bound. A job counts until its
    thread really finishes: a caller that was cancelled does not free its slot while
    the model is still busy with its work.

    Admission by deadline: every job's duration feeds an EWMA, the *service time*
    (the warm-up's jobs seed it). :meth:`estimated_wait_s` turns it into the wait a
    new job would see, and :meth:`submit_within` / :meth:`admit` refuse a caller at
    once (Overloaded with ``retry-after-ms``) when that wait plus one service time
    exceeds its remaining deadline, instead of queueing work that can only miss it.
    """

    def __init__(
        self, max_workers: int, max_queue: int, thread_name_prefix: str = "infer"
    ) -> None:
        """Create the pool.

        Args:
            max_workers: Threads running jobs (one per model copy; 1 on a GPU).
            max_queue: Jobs allowed to wait for a thread.
            thread_name_prefix: Prefix of the worker thread names, for debuggers.

        Raises:
            ValueError: ``max_workers < 1`` or ``max_queue < 0``.
        """
        if max_workers < 1 or max_queue < 0:
            raise ValueError("max_workers must be >= 1 and max_queue >= 0")
        self.max_workers = max_workers
        self.max_queue = max_queue
        self._pool = ThreadPoolExecutor(
            max_workers, thread_name_prefix=thread_name_prefix
        )
        self._lock = threading.Lock()
        self._in_flight = 0
        self._closed = False
        self._service_s: float | None = None
        self._started: dict[int, float] = {}  # running job -> monotonic start
        self._ids = itertools.count()

    @property
    def capacity(self) -> int:
        """Jobs that may be in flight at once: ``max_workers + max_queue``."""
        return self.max_workers + self.max_queue

    @property
    def in_flight(self) -> int:
        """Jobs submitted and not finished (running plus waiting)."""
        return self._in_flight

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker thread."""
        return max(0, self._in_flight - self.max_workers)

    @property
    def service_time_s(self) -> float | None:
        """EWMA of recent job durations in seconds; None before the first job ends."""
        return self._service_s

    def estimated_wait_s(self) -> float:
        """Seconds a job submitted now would wait for a worker thread.

        ``(time the running jobs still need + queued jobs x service time) / workers``
        when every worker is busy, where a running job still needs the service time
        less what it has run (at least 0); 0 while a worker is free or before any job
        has been measured.
        """
        service = self._service_s
        with self._lock:
            if service is None or self._in_flight < self.max_workers:
                return 0.0
            now = time.monotonic()
            running = sum(max(0.0, service - (now - t)) for t in self._started.values())
            # Jobs handed to the pool but not yet started count as queued.
            queued = self._in_flight - len(self._started)
        return (running + queued * service) / self.max_workers

    def admit(self, deadline_s: float | None, jobs: float = 1.0) -> None:
        """Refuse now if ``jobs`` service times cannot finish within ``deadline_s``.

        Args:
            deadline_s: The caller's remaining time in seconds (gRPC's
                ``context.time_remaining()``); None means no deadline: always admitted.
            jobs: How many service times the caller needs after its wait.

        Raises:
            Overloaded: ``estimated_wait_s() + jobs x service_time_s > deadline_s``;
                the message gives both, ``retry_after_ms`` the estimated wait.
        """
        service = self._service_s
        if deadline_s is None or service is None:
            return
        wait = self.estimated_wait_s()
        need = wait + jobs * service
        if need > deadline_s:
            raise Overloaded(
                f"inference is overloaded: estimated wait {wait:.3f} s plus "
                f"{jobs * service:.3f} s of work exceeds the deadline's remaining "
                f"{max(0.0, deadline_s):.3f} s; retry later or with a longer deadline",
                retry_after_ms=max(1, math.ceil(wait * 1000)),
            )

    async def submit_within(
        self,
        deadline_s: float | None,
        fn: Callable[_P, _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """:meth:`submit` with admission by the caller's remaining deadline.

        Refused at once (before queueing) as :meth:`admit` says; a job still queued
        when ``deadline_s`` has passed is dropped without running and raises
        :class:`~tts_common.errors.DeadlineExceeded`.

        Raises:
            Overloaded: Not admitted, or ``capacity`` jobs are already in flight.
            DeadlineExceeded: The deadline passed before a worker took the job.
            RuntimeError: The executor is closed.
            Exception: Whatever ``fn`` raises.
        """
        self.admit(deadline_s)
        expires = None if deadline_s is None else time.monotonic() + deadline_s
        return await self._submit(expires, fn, *args, **kwargs)

    async def submit(
        self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run ``fn(*args, **kwargs)`` in a worker thread and await its result.

        The caller's context variables (the request id the log formatter reads) are
        copied into the thread. Cancelling the awaiting task drops a job that has not
        started yet; a running job finishes and its result is discarded.

        Raises:
            Overloaded: ``capacity`` jobs are already in flight.
            RuntimeError: The executor is closed.
            Exception: Whatever ``fn`` raises.
        """
        return await self._submit(None, fn, *args, **kwargs)

    async def _submit(
        self,
        expires: float | None,
        fn: Callable[_P, _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is closed")
            if self._in_flight >= self.capacity:
                raise Overloaded(
                    f"inference queue is full ({self._in_flight} jobs in flight); "
                    "retry with backoff"
                )
            self._in_flight += 1
        ctx = contextvars.copy_context()
        job = functools.partial(fn, *args, **kwargs)
        call = functools.partial(ctx.run, self._timed, expires, job)
        try:
            future: Future[_T] = self._pool.submit(call)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._on_done)
        return await asyncio.wrap_future(future)

    def _timed(self, expires: float | None, job: Callable[[], _T]) -> _T:
        """Run ``job`` in a worker thread, timing it into the service-time EWMA."""
        start = time.monotonic()
        if expires is not None and start >= expires:
            raise DeadlineExceeded("the deadline passed while the job was queued")
        key = next(self._ids)
        with self._lock:
            self._started[key] = start
        try:
            return job()
        finally:
            took = time.monotonic() - start
            with self._lock:
                del self._started[key]
                old = self._service_s
                self._service_s = (
                    took if old is None else old + SERVICE_TIME_WEIGHT * (took - old)
                )

    def _on_done(self, _future: Future[Any]) -> None:
        """Free the slot when a job ends (worker thread), or is cancelled unstarted."""
        self._release()

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def close(self, wait: bool = True) -> None:
        """Refuse new jobs, drop waiting ones and (with ``wait``) join running ones."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
