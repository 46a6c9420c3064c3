"""Downstream call policy: UNAVAILABLE retries over replicas, inside the deadline.

Replica choice and suspect marking live in :mod:`gateway.stages.replicas`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from gateway.stages.deadline import Deadline
from gateway.stages.errors import StageError, stage_error
from gateway.stages.replicas import ReplicaSet

__all__ = ["RetryPolicy", "call_with_retry"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")
_Unavailable = grpc.StatusCode.UNAVAILABLE


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
