"""Prometheus metrics of one stage, held by an injected object with its own registry.

Every registry made here also carries the process's own series (``process_*``:
CPU seconds, resident memory, open files, start time; ``python_info``) and
``tts_build_info{service, version}``, so each service, the HTTP bridge included,
says what runs and what it costs.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import start_http_server as _start_http_server

__all__ = [
    "DISTRIBUTION",
    "LATENCY_BUCKETS_S",
    "Metrics",
    "MetricsServer",
    "add_process_metrics",
    "package_version",
    "split_method",
    "start_metrics_server",
]

DISTRIBUTION = "sambert-tts-service"
"""The installed distribution's name (``pyproject.toml``), whose version we report."""


def package_version() -> str:
    """This package's version from its installed metadata; ``unknown`` when it runs
    from a source tree that was never installed (``pip install -e .`` counts)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def add_process_metrics(registry: CollectorRegistry, service: str) -> None:
    """Register ``process_*``, ``python_info`` and ``tts_build_info`` on ``registry``.

    Args:
        registry: A registry of one process (each collector may be added once).
        service: The ``service`` label of the build info, e.g. ``"gateway"``.
    """
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    build = Gauge(
        "tts_build_info",
        "Always 1; the labels say which service and package version run here.",
        ["service", "version"],
        registry=registry,
    )
    build.labels(service, package_version()).set(1)


LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Histogram buckets in seconds: from a cache hit to a minute-long stream."""


def split_method(full_method: str) -> tuple[str, str]:
    """Split ``/package.Service/Method`` into ``("package.Service", "Method")``."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


class QueueSource(Protocol):
    """What the inference gauges read, e.g. a ``BoundedExecutor``."""

    @property
    def in_flight(self) -> int:
        """Jobs submitted and not finished."""
        ...

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker thread."""
        ...


class Metrics:
    """The RPC and inference metrics of one service.

    A fresh :class:`CollectorRegistry` per object (not prometheus_client's global
    one) keeps services and tests from sharing counters. Services may register
    their own collectors on :attr:`registry`. Label names follow go-grpc-prometheus
    so the usual dashboards work.
    """

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        """Create the collectors.

        Args:
            service: Service name, for logs; Prometheus' job label names the target.
            registry: Registry to use; a new one when None.
        """
        self.service = service
        self.registry = registry if registry is not None else CollectorRegistry()
        add_process_metrics(self.registry, service)
        self._models: Gauge | None = None
        rpc_labels = ["grpc_service", "grpc_method"]
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed, by method and status code.",
            [*rpc_labels, "grpc_code"],
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status.",
            rpc_labels,
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.first_message_seconds = Histogram(
            "grpc_server_first_message_seconds",
            "Time from the start of a server-streaming RPC to its first message.",
            rpc_labels,
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "grpc_server_in_flight",
            "RPCs being handled now.",
            rpc_labels,
            registry=self.registry,
        )
        self.inference_in_flight = Gauge(
            "tts_inference_in_flight",
            "Inference jobs submitted and not finished (running plus queued).",
            registry=self.registry,
        )
        self.inference_queue_depth = Gauge(
            "tts_inference_queue_depth",
            "Inference jobs waiting for a worker thread.",
            registry=self.registry,
        )

    def rpc_started(self, full_method: str) -> None:
        """Count an RPC as in flight."""
        self.in_flight.labels(*split_method(full_method)).inc()

    def rpc_finished(self, full_method: str, code: str, seconds: float) -> None:
        """Record a finished RPC.

        Args:
            full_method: ``/package.Service/Method``.
            code: Status code name, e.g. ``"OK"`` or ``"INVALID_ARGUMENT"``.
            seconds: Time from start to status.
        """
        service, method = split_method(full_method)
        self.in_flight.labels(service, method).dec()
        self.handled.labels(service, method, code).inc()
        self.handling_seconds.labels(service, method).observe(seconds)

    def first_message(self, full_method: str, seconds: float) -> None:
        """Record the time to the first message of a server stream."""
        self.first_message_seconds.labels(*split_method(full_method)).observe(seconds)

    def watch_queue(self, source: QueueSource) -> None:
        """Read the inference gauges from ``source`` at every scrape."""
        self.inference_in_flight.set_function(lambda: source.in_flight)
        self.inference_queue_depth.set_function(lambda: source.queue_depth)

    def set_models(self, revisions: Mapping[str, str]) -> None:
        """Export ``tts_model_info{voice, revision} 1`` for each voice this stage
        serves (call again after a reload: earlier revisions are dropped)."""
        if self._models is None:
            self._models = Gauge(
                "tts_model_info",
                "Always 1; one series per voice served, labelled with the "
                "revision (content hash) of the model that serves it.",
                ["voice", "revision"],
                registry=self.registry,
            )
        self._models.clear()
        for voice, revision in revisions.items():
            self._models.labels(voice, revision).set(1)

    def render(self) -> str:
        """The registry in Prometheus text format, as the HTTP endpoint serves it."""
        return generate_latest(self.registry).decode("utf-8")


@dataclass
class MetricsServer:
    """A running Prometheus HTTP endpoint."""

    server: WSGIServer
    """The HTTP server."""
    thread: threading.Thread
    """The daemon thread serving it."""

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        return int(self.server.server_port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(
    port: int, metrics: Metrics, addr: str = "0.0.0.0"
) -> MetricsServer:
    """Serve ``metrics`` on ``http://addr:port/metrics`` from a daemon thread.

    Args:
        port: TCP port; 0 picks a free one (read it back from ``.port``).
        metrics: Whose registry to serve.
        addr: Interface to bind.

    Returns:
        The running server; call ``close()`` on shutdown.
    """
    server, thread = _start_http_server(port, addr=addr, registry=metrics.registry)
    return MetricsServer(server=server, thread=thread)
