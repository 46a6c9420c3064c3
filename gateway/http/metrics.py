"""The bridge's Prometheus series, served by the bridge itself at ``GET /metrics``.

Requests by route and status and their latency (a streamed speech response counts
until its last byte), plus the process and build series every service exports. The
route label is the route's pattern (``/v1/audio/speech``, ``/static``), never the
raw path, so stray URLs cannot blow up the series count: unrouted ones count as
``unmatched`` (and unusual methods as ``OTHER``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from tts_common.metrics import LATENCY_BUCKETS_S, add_process_metrics

__all__ = ["HttpMetrics"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CLIENT_CLOSED = 499
"""Status recorded when the client hung up before the response ended (nginx's)."""


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _labels(request: web.Request) -> tuple[str, str]:
    """The route pattern and method of ``request``, from bounded sets."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    return route, request.method if request.method in _METHODS else "OTHER"


class HttpMetrics:
    """Request counts, latency and in-flight requests of one bridge."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Register on ``registry`` (a fresh one when None), with the process and
        build series."""
        self.registry = registry if registry is not None else CollectorRegistry()
        add_process_metrics(self.registry, "http")
        labels = ["route", "method"]
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status "
            "(499: the client hung up first).",
            [*labels, "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a streamed "
            "response counts until its last byte).",
            labels,
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being answered now.",
            registry=self.registry,
        )

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        """Count and time every request; put it outside the error middleware so
        the status is the one the client got."""
        started, status = time.perf_counter(), 500
        self.in_flight.inc()
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = _CLIENT_CLOSED
            raise
        finally:
            self.in_flight.dec()
            route, method = _labels(request)
            self.requests.labels(route, method, str(status)).inc()
            self.seconds.labels(route, method).observe(time.perf_counter() - started)

    async def handle(self, _request: web.Request) -> web.Response:
        """``GET /metrics``: the registry in Prometheus' text format."""
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
