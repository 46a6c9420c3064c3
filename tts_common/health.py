"""gRPC health of a stage: NOT_SERVING until warmed up and again while draining."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

__all__ = ["HEALTH_SERVICE_NAME", "HealthState"]

HEALTH_SERVICE_NAME: str = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
"""``grpc.health.v1.Health``: what Kubernetes' ``grpc:`` probes call."""

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthState:
    """The library's asyncio health servicer, plus the stage's readiness life cycle.

    Status is kept for the overall server (``""``) and for each named service. All
    start NOT_SERVING: a stage is ready only after its model is loaded and a warm-up
    inference has run (the vocoder's CUDA start-up is slow), so probes must not route
    traffic to it earlier.
    """

    def __init__(self, service_names: Iterable[str]) -> None:
        """Create the servicer with ``""`` and each of ``service_names`` NOT_SERVING.

        Must run inside the event loop that serves the RPCs.
        """
        self.servicer = health_aio.HealthServicer()
        self.service_names: tuple[str, ...] = ("", *dict.fromkeys(service_names))
        self._status = dict.fromkeys(self.service_names, _NOT_SERVING)
        self._serving = False
        self._draining = False
        # The library starts "" SERVING and knows no other name, and its only setter
        # is a coroutine: the NOT_SERVING start runs as a task scheduled now. The
        # loop runs callbacks in order, so it runs before any RPC this servicer
        # answers (none can be scheduled before it), and every change awaits it.
        self._started = asyncio.get_running_loop().create_task(
            self._publish(_NOT_SERVING)
        )

    @property
    def serving(self) -> bool:
        """True between :meth:`mark_serving` and the start of draining."""
        return self._serving and not self._draining

    @property
    def draining(self) -> bool:
        """True once :meth:`enter_graceful_shutdown` has run; never reset."""
        return self._draining

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register ``grpc.health.v1.Health`` on ``server``."""
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    async def mark_serving(self) -> None:
        """Report SERVING for every service (after warm-up); ignored once draining."""
        await self._started
        if self._draining:
            return
        await self._publish(_SERVING)
        self._serving = True

    async def mark_not_serving(self) -> None:
        """Report NOT_SERVING for every service, e.g. while a model reloads."""
        await self._started
        await self._publish(_NOT_SERVING)
        self._serving = False

    async def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for good; later :meth:`mark_serving` calls do nothing."""
        self._draining = True
        await self._started
        self._status = dict.fromkeys(self.service_names, _NOT_SERVING)
        await self.servicer.enter_graceful_shutdown()

    def status(self, service: str = "") -> int:
        """The ``HealthCheckResponse.ServingStatus`` value now reported for ``service``.

        Raises:
            KeyError: ``service`` is not tracked.
        """
        return int(self._status[service])

    async def _publish(self, status: int) -> None:
        """Set ``status`` for every service, here and in the servicer; once draining,
        only NOT_SERVING (the servicer ignores any set after its shutdown)."""
        for name in self.service_names:
            if self._draining and status != _NOT_SERVING:
                return
            self._status[name] = status
            await self.servicer.set(name, status)
