"""Downstream call policy: the caller's deadline, UNAVAILABLE retries over replicas.

Replica choice and suspect marking live in :mod:`gateway.replicas`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tts_common.errors import TtsError

if TYPE_CHECKING:
    from gateway.replicas import ReplicaSet

__all__ = [
    "BROKEN_CODES",
    "CORE_SEND_FAILED",
    "Deadline",
    "RetryPolicy",
    "StageError",
    "StreamBroken",
    "call_with_retry",
    "stage_error",
    "wait_until_serving",
]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")
_Unavailable = grpc.StatusCode.UNAVAILABLE
_SERVING = health_pb2.HealthCheckResponse.SERVING
BROKEN_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
"""Codes of a stream that broke under us: the replica went away or dropped the
connection. A local ``call.cancel()`` never shows up as CANCELLED here (grpc.aio
raises asyncio.CancelledError then), so CANCELLED means the transport or the
replica ended the call, e.g. a server stopping without grace."""
CORE_SEND_FAILED = "Internal error from Core"
"""What grpc.aio reports (as INTERNAL) when writing to a stream whose connection
just died: the send failed in gRPC core, not in the stage."""


class StageError(TtsError):
    """A downstream stage failed; ``status`` passes its gRPC code through unchanged."""

    def __init__(self, status: str, message: str) -> None:
        """Create the error with the status name the client will see."""
        super().__init__(message)
        self.status = status


class StreamBroken(StageError):
    """A stage stream failed after it was committed, because of its replica or the
    connection (not the request): the sentence may be re-run on another replica."""

    def __init__(self, stage: str, addr: str, exc: grpc.aio.AioRpcError) -> None:
        """Report UNAVAILABLE: the caller did not cancel, whatever the wire said."""
        code = exc.code().name
        super().__init__(
            "UNAVAILABLE", f"{stage} stream to {addr} broke ({code}: {exc.details()})"
        )
        self.stage, self.addr = stage, addr


class Deadline:
    """The caller's deadline as a monotonic instant, shared by every downstream call."""

    def __init__(self, seconds: float) -> None:
        """Start the clock: ``seconds`` from now."""
        self._end = time.monotonic() + seconds

    @classmethod
    def from_context(cls, context: Any, default_s: float) -> Deadline:
        """The caller's remaining time, or ``default_s`` when it set no deadline."""
        remaining = context.time_remaining()
        return cls(default_s if remaining is None else float(remaining))

    def remaining(self) -> float:
        """Seconds left; negative once passed."""
        return self._end - time.monotonic()

    def timeout(self, stage: str) -> float:
        """The ``timeout=`` for a call to ``stage`` now.

        Raises:
            StageError: DEADLINE_EXCEEDED when no time is left to call it.
        """
        left = self.remaining()
        if left <= 0:
            raise StageError(
                "DEADLINE_EXCEEDED",
                f"deadline exceeded before the {stage} stage could be called; "
                "set a longer deadline",
            )
        return left


class RetryPolicy:
    """How often and how fast to retry a call that failed UNAVAILABLE."""

    def __init__(self, retries: int, backoff_s: float, max_backoff_s: float) -> None:
        """Extra attempts, first delay and delay cap (seconds); delays double."""
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s

    def delay(self, attempt: int) -> float:
        """Delay before retry ``attempt + 1``, jittered so callers do not align."""
        cap = min(self.max_backoff_s, self.backoff_s * 2.0**attempt)
        return cap * random.uniform(0.5, 1.0)


async def call_with_retry(
    replicas: ReplicaSet,
    policy: RetryPolicy,
    deadline: Deadline,
    attempt: Callable[[grpc.aio.Channel, float], Awaitable[_T]],
) -> _T:
    """Run ``attempt(channel, timeout)``, retrying UNAVAILABLE on the next replica.

    ``attempt`` must raise before it has handed any response on (it returns only
    once the call is committed), so a retry never duplicates output. Other codes
    pass through unchanged; retries stop when the next delay would pass the deadline.
    A replica that answered UNAVAILABLE becomes suspect (tried last from then on).

    Raises:
        StageError: The stage's status, or UNAVAILABLE naming every replica tried.
    """
    order, stage, tried = replicas.attempt_order(), replicas.stage, []
    last = ""
    for n in range(policy.retries + 1):
        index = order[n % len(order)]
        try:
            return await attempt(replicas.channels[index], deadline.timeout(stage))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != _Unavailable:
                raise stage_error(stage, exc) from None
            last = exc.details() or "unreachable"
            tried.append(replicas.addrs[index])
            _LOGGER.warning("%s replica %s unavailable", stage, replicas.addrs[index])
            replicas.mark_suspect(index)
        if n < policy.retries:
            delay = policy.delay(n)
            if delay >= deadline.remaining():
                break
            await asyncio.sleep(delay)
    raise StageError(
        "UNAVAILABLE",
        f"{stage} stage is unavailable (tried {', '.join(dict.fromkeys(tried))}: "
        f"{last}); retry later",
    )


def stage_error(stage: str, exc: grpc.aio.AioRpcError) -> StageError:
    """The downstream status, unchanged, with the stage named in the message."""
    return StageError(exc.code().name, f"{stage} stage: {exc.details()}")


async def wait_until_serving(
    replica_sets: Sequence[ReplicaSet], timeout_s: float
) -> None:
    """Poll each stage's replicas' health until every stage has one SERVING.

    Raises:
        TimeoutError: Some stage had no SERVING replica within ``timeout_s``; the
            message names it and its addresses.
    """
    end = time.monotonic() + timeout_s
    for replicas in replica_sets:
        while not await _any_serving(replicas):
            if time.monotonic() >= end:
                raise TimeoutError(
                    f"{replicas.stage} stage not SERVING at "
                    f"{', '.join(replicas.addrs)} after {timeout_s:.0f}s"
                )
            await asyncio.sleep(0.5)
        _LOGGER.info("%s stage is serving", replicas.stage)


async def _any_serving(replicas: ReplicaSet) -> bool:
    """True when at least one replica answers Health/Check with SERVING."""
    for channel in replicas.channels:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
        except grpc.aio.AioRpcError:
            continue
        if reply.status == _SERVING:
            return True
    return False
