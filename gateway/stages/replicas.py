"""Channels to one stage's replicas: round robin per call, failed replicas avoided.

A replica that fails (UNAVAILABLE before its first response, or a stream that broke
mid-way) is marked *suspect*: new calls go to the other replicas first until a
health watch sees it SERVING again (a restarted pod at the same address). The
channels retry a lost connection at least every ``reconnect_s`` (gRPC's default
backoff grows to 2 minutes), so a restarted replica is reconnected while it warms
up and takes calls as soon as it reports SERVING.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.stages.errors import (
    BROKEN_CODES,
    CORE_SEND_FAILED,
    StageError,
    StreamBroken,
    stage_error,
)
from tts_common.tls import aio_channel

__all__ = ["Keepalive", "ReplicaSet", "wait_until_serving"]

_LOGGER = logging.getLogger(__name__)
_SERVING = health_pb2.HealthCheckResponse.SERVING


class Keepalive:
    """HTTP/2 pings on the stage channels, so a replica whose host vanished (no RST,
    no FIN: a black hole) fails its streams within ``time_s + timeout_s`` of silence
    instead of at the caller's deadline. The stages accept pings every 10 s
    (tts_common.server); pinging faster risks GOAWAY "too_many_pings", and at exactly
    10 s timer jitter would do it now and then."""

    def __init__(self, time_s: float = 12.0, timeout_s: float = 5.0) -> None:
        """Ping after ``time_s`` without reads; give up ``timeout_s`` after a ping."""
        self.time_s, self.timeout_s = time_s, timeout_s


class ReplicaSet:
    """Channels to one stage's replicas, picked round-robin per call, suspects last."""

    def __init__(
        self,
        stage: str,
        addrs: Sequence[str],
        max_message_bytes: int,
        keepalive: Keepalive | None = None,
        probe_s: float = 1.0,
        reconnect_s: float = 0.25,
        *,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """Open lazy channels (no connection until the first call).

        ``probe_s`` is how long a suspect replica is avoided at least, and the
        pause between its health watches when one fails; ``reconnect_s`` caps the
        wait between attempts to reconnect a lost replica (gRPC adds 20% jitter).
        ``credentials`` make every channel TLS (None: plaintext).
        """
        self.stage = stage
        self.addrs = tuple(addrs)
        keepalive = keepalive or Keepalive()
        self._probe_s = probe_s
        self._suspects: dict[int, asyncio.Task[None]] = {}
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.keepalive_time_ms", int(keepalive.time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(keepalive.timeout_s * 1000)),
            # Retries are ours (next replica, inside the deadline), not the channel's.
            ("grpc.enable_retries", 0),
            # A headless Service name resolves to every pod: spread calls over all of
            # them instead of pinning this gateway to the first address (pick_first).
            ("grpc.lb_policy_name", "round_robin"),
            # A replica that went away is retried every ``reconnect_s`` at most, not
            # after gRPC's default backoff (up to 120 s): a restart at the same
            # address is reconnected during its warm-up. One attempt may take 1 s
            # (a dropped SYN is resent after 1 s), so a black-holed host is
            # re-dialled every second instead of every 20 s.
            ("grpc.initial_reconnect_backoff_ms", int(min(reconnect_s, 0.1) * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(reconnect_s * 1000)),
            ("grpc.min_reconnect_backoff_ms", 1000),
            # A DNS name (a headless Service) is re-resolved when its pods fail:
            # once a second at most rather than every 30 s, so a pod that is
            # ready again is found as soon as its DNS entry is back.
            ("grpc.dns_min_time_between_resolutions_ms", 1000),
        ]
        self.channels = [aio_channel(a, credentials, options) for a in addrs]
        self._next = 0

    def start_index(self) -> int:
        """Replica for the next call; successive calls rotate over the healthy ones
        (over all of them when every replica is suspect)."""
        count = len(self.addrs)
        for skip in range(count):
            index = (self._next + skip) % count
            if index not in self._suspects:
                self._next += skip + 1
                return index
        index = self._next % count
        self._next += 1
        return index

    def attempt_order(self) -> list[int]:
        """Replicas for one call and its retries: the next one first, suspects last."""
        start = self.start_index()
        order = [(start + n) % len(self.addrs) for n in range(len(self.addrs))]
        return sorted(order, key=lambda index: index in self._suspects)

    def index_of(self, channel: grpc.aio.Channel) -> int:
        """The replica a channel of this set leads to."""
        return self.channels.index(channel)

    def suspects(self) -> list[str]:
        """Addresses currently avoided."""
        return [self.addrs[i] for i in sorted(self._suspects)]

    def mark_suspect(self, index: int) -> None:
        """Avoid replica ``index`` until its health check answers SERVING."""
        if index not in self._suspects:
            _LOGGER.info("%s replica %s suspect", self.stage, self.addrs[index])
            self._suspects[index] = asyncio.create_task(self._probe(index))

    async def _probe(self, index: int) -> None:
        """Watch the replica's health (waiting for a connection) until SERVING."""
        stub = health_pb2_grpc.HealthStub(self.channels[index])
        serving = False
        while not serving:
            await asyncio.sleep(self._probe_s)
            # The server pushes each change, so SERVING after a restart is seen at
            # once rather than at the next poll.
            call = stub.Watch(health_pb2.HealthCheckRequest(), wait_for_ready=True)
            try:
                async for reply in call:
                    if reply.status == _SERVING:
                        serving = True
                        break
            except grpc.aio.AioRpcError:
                continue  # it went away again (or is draining): watch anew
            finally:
                call.cancel()
        del self._suspects[index]
        _LOGGER.info("%s replica %s serving again", self.stage, self.addrs[index])

    def stream_error(self, index: int, exc: grpc.aio.AioRpcError) -> StageError:
        """The error for a stream on replica ``index`` that failed mid-way: a
        :class:`StreamBroken` (replica marked suspect) when the replica or the
        connection is to blame, else the stage's status unchanged."""
        core = exc.code() == grpc.StatusCode.INTERNAL
        if exc.code() not in BROKEN_CODES and not (
            core and exc.details() == CORE_SEND_FAILED
        ):
            return stage_error(self.stage, exc)
        self.mark_suspect(index)
        return StreamBroken(self.stage, self.addrs[index], exc)

    async def close(self) -> None:
        """Stop the probes, close every channel (cancels calls still running)."""
        probes = list(self._suspects.values())
        for probe in probes:
            probe.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        await asyncio.gather(*(channel.close() for channel in self.channels))


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
