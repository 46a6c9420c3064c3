"""A bounded thread pool for inference: work off the event loop, refused when full."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from tts_common.errors import Overloaded

__all__ = ["BoundedExecutor"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class BoundedExecutor:
    """Runs blocking inference in worker threads, with a hard cap on waiting work.

    At most ``max_workers`` jobs run and ``max_queue`` more wait; a submission beyond
    that raises :class:`~tts_common.errors.Overloaded` (RESOURCE_EXHAUSTED) at once,
    so callers back off instead of queueing without bound. A job counts until its
    thread really finishes: a caller that was cancelled does not free its slot while
    the model is still busy with its work.
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
        call = functools.partial(ctx.run, fn, *args, **kwargs)
        try:
            future: Future[_T] = self._pool.submit(call)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._on_done)
        return await asyncio.wrap_future(future)

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
