"""The gateway's own Prometheus series, on the service's registry.

The shared :class:`tts_common.metrics.Metrics` covers RPC counts by status, latency,
first-message time and in-flight RPCs; this adds what only the gateway knows: cache
outcomes per voice (what autoscaling and cost dashboards key on), the time to the
first audio byte of a stream (the header message does not count), mid-stream
failovers per stage (a replica that keeps breaking streams shows up there), and cache
entries that failed their integrity check.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.admission import Admission
from tts_common.metrics import LATENCY_BUCKETS_S

__all__ = ["GatewayMetrics"]

_TTFA_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, *LATENCY_BUCKETS_S[1:],
)  # fmt: skip


class GatewayMetrics:
    """Cache counters, the time-to-first-audio histogram, failovers, integrity."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Register on ``registry`` (a fresh one when None)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        self.hits = Counter(
            "tts_cache_hits",
            "Sentence lookups answered from the cache (or from a "
            "concurrent identical synthesis).",
            ["voice"],
            registry=self.registry,
        )
        self.misses = Counter(
            "tts_cache_misses",
            "Sentence lookups that ran the models.",
            ["voice"],
            registry=self.registry,
        )
        self.errors = Counter(
            "tts_cache_errors",
            "Sentence lookups that failed because Redis was down "
            "or slow (synthesis still ran).",
            ["voice"],
            registry=self.registry,
        )
        self.first_audio_seconds = Histogram(
            "tts_time_to_first_audio_seconds",
            "Time from the start of a synthesis RPC to its first audio bytes.",
            ["method", "cached"],
            buckets=_TTFA_BUCKETS_S,
            registry=self.registry,
        )
        self.failovers = Counter(
            "tts_gateway_failovers",
            "Sentences re-run on another replica because a stage stream broke "
            "mid-way (the audio already sent was skipped).",
            ["stage"],
            registry=self.registry,
        )

        self.integrity_failures = Counter(
            "tts_cache_integrity_failures",
            "Cache entries whose integrity tag did not verify (tampered, or written "
            "without the gateway's key): served as misses and overwritten.",
            ["kind"],
            registry=self.registry,
        )

    def watch_admission(self, admission: Admission) -> None:
        """Export the admission's slots in use, queue and measured cost, read at
        each scrape (what an autoscaler of gateways or stages keys on)."""
        for name, doc, read in (
            ("tts_gateway_syntheses_running", "Requests holding a synthesis slot.",
             lambda: admission.running),
            ("tts_gateway_syntheses_waiting", "Requests queued for a synthesis slot.",
             lambda: admission.waiting),
            ("tts_gateway_seconds_per_work_unit",
             "Measured seconds a symbol (at speed 1) takes in a slot.",
             lambda: admission.seconds_per_unit or 0.0),
        ):  # fmt: skip
            Gauge(name, doc, registry=self.registry).set_function(read)

    def integrity_failure(self, kind: str) -> None:
        """Count one entry of ``kind`` (``audio`` or ``analysis``) that failed its check."""
        self.integrity_failures.labels(kind).inc()

    def failover(self, stage: str) -> None:
        """Count one sentence re-run after ``stage``'s stream broke."""
        self.failovers.labels(stage).inc()

    def cache_outcome(self, voice: str, outcome: str) -> None:
        """Count one lookup: ``"hit"``, ``"miss"`` or ``"error"``."""
        counter = {"hit": self.hits, "miss": self.misses}.get(outcome, self.errors)
        counter.labels(voice).inc()

    def first_audio(self, method: str, cached: bool, seconds: float) -> None:
        """Record the time to the first audio of a request."""
        self.first_audio_seconds.labels(method, str(cached).lower()).observe(seconds)
