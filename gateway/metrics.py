"""The gateway's own Prometheus series, on the service's registry.

The shared :class:`tts_common.metrics.Metrics` covers RPC counts by status, latency,
first-message time and in-flight RPCs; this adds what only the gateway knows: cache
outcomes per voice (what autoscaling and cost dashboards key on), the time to the
first audio byte of a stream (the header message does not count), mid-stream
failovers per stage (a replica that keeps breaking streams shows up there), cache
entries that failed their integrity check, the audio seconds and characters
synthesized per voice (cached or computed), the real-time factor of requests the
models made, and the model revisions behind each voice.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.admission import Admission
from gateway.voices import VoiceCatalog
from sambert_tts_protos.v1 import gateway_service_pb2
from tts_common.metrics import LATENCY_BUCKETS_S

__all__ = ["GatewayMetrics"]

_TTFA_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, *LATENCY_BUCKETS_S[1:],
)  # fmt: skip
_RTF_BUCKETS: tuple[float, ...] = (
    0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
)  # fmt: skip
"""Real-time factors: from a GPU far ahead of playback to a CPU far behind it (1.0
is as fast as the audio plays)."""


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

        self.audio_seconds = Counter(
            "tts_audio_seconds",
            "Seconds of audio in the sentences of completed synthesis requests, "
            "breaks included, after speed; cached: served from the cache (or a "
            "concurrent identical synthesis), else computed.",
            ["voice", "cached"],
            registry=self.registry,
        )
        self.characters = Counter(
            "tts_characters",
            "Characters of the sentences of completed synthesis requests, as read "
            "out (normalized text: numbers spelled out, SSML tags left out).",
            ["voice", "cached"],
            registry=self.registry,
        )
        self.real_time_factor = Histogram(
            "tts_real_time_factor",
            "Seconds a request took / seconds of audio it made, for requests whose "
            "sentences all ran the models (none from the cache); below 1 is faster "
            "than real time.",
            ["voice"],
            buckets=_RTF_BUCKETS,
            registry=self.registry,
        )
        self.voice_info = Gauge(
            "tts_voice_info",
            "Always 1; one series per voice the stages serve, labelled with the "
            "revisions (content hashes) of its frontend, acoustic model and vocoder.",
            ["voice", "frontend_revision", "acoustic_revision", "vocoder_revision"],
            registry=self.registry,
        )

    def synthesized(
        self,
        voice: str,
        sentences: Iterable[gateway_service_pb2.SentenceInfo],
        seconds: float,
    ) -> None:
        """Record a completed request: its sentences' audio seconds and characters
        (cached or computed) and, when no sentence came from the cache, its
        real-time factor (``seconds`` of wall time over the audio's length)."""
        audio_s, any_cached = 0.0, False
        for info in sentences:
            cached = "true" if info.cached else "false"
            self.audio_seconds.labels(voice, cached).inc(info.duration_ms / 1000)
            self.characters.labels(voice, cached).inc(len(info.normalized_text))
            audio_s += info.duration_ms / 1000
            any_cached |= info.cached
        if audio_s > 0 and not any_cached:
            self.real_time_factor.labels(voice).observe(seconds / audio_s)

    def voices(self, catalog: VoiceCatalog) -> None:
        """Export the revisions of each voice in ``catalog`` (the last read wins)."""
        self.voice_info.clear()
        for name, v in catalog.voices.items():
            self.voice_info.labels(
                name, v.frontend_revision, v.acoustic_revision, v.vocoder_revision
            ).set(1)
            for cached in ("true", "false"):  # at 0 from the start, so rate() works
                self.audio_seconds.labels(name, cached)
                self.characters.labels(name, cached)

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
