"""Cache counters behind GetCacheReport: the shared report shape and an in-memory set.

Semantics (the same for :class:`gateway.cache.report.RedisCacheCounters`): one lookup per
sentence synthesized with the cache on. A *hit* is a sentence served without running
the models: from Redis, or from a concurrent identical synthesis it waited for
(singleflight). A *miss* ran the models; an *error* found Redis unusable and ran
the models too. ``compute_avoided_s`` adds, per hit, the measured synthesis time of
the entry served; ``money_saved`` prices it with the configured table.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from google.protobuf import timestamp_pb2

from gateway.cache.pricing import Price
from sambert_tts_protos.v1 import gateway_service_pb2
from tts_common.errors import InvalidInput

__all__ = [
    "MAX_TOP",
    "MAX_WINDOW_S",
    "CacheCounters",
    "Outcome",
    "OutcomeMetrics",
    "ReportCounters",
    "Tally",
    "build_report",
    "check_report_args",
]

Outcome = str
"""``"hit"``, ``"miss"`` or ``"error"`` (a lookup); ``"made"``: a sentence that was
looked up has been synthesized, with its compute time (not a lookup)."""

DEFAULT_TOP = 10
"""Top sentences reported when the request leaves ``max_top_sentences`` at 0."""
MAX_TOP = 100
"""Most top sentences one report lists."""
MAX_WINDOW_S = 30 * 86400
"""Longest report window: 30 days (0 asks for everything since counting began)."""


def check_report_args(window_s: int, top: int) -> None:
    """Refuse a report window or top count out of range, naming the range (the gRPC
    request and the HTTP query are checked alike).

    Raises:
        InvalidInput: ``window_s`` is not 0 or 1 to 2,592,000 (30 days), or ``top``
            is not 0 to 100.
    """
    if not 0 <= window_s <= MAX_WINDOW_S:
        raise InvalidInput(
            f"window_s {window_s} is out of range; use 1 to {MAX_WINDOW_S} seconds "
            "(30 days), or 0 for everything since counting began"
        )
    if not 0 <= top <= MAX_TOP:
        raise InvalidInput(
            f"max_top_sentences {top} is out of range; use 0 to {MAX_TOP} "
            f"(0 means {DEFAULT_TOP})"
        )


@dataclass
class Tally:
    """Counts of one voice (or of all)."""

    hits: int = 0
    misses: int = 0
    errors: int = 0
    audio_s: float = 0.0
    compute_s: float = 0.0
    spent_s: float = 0.0
    """Compute time of the sentences synthesized after a miss or an error."""

    def add(
        self, outcome: Outcome, audio_s: float = 0.0, compute_s: float = 0.0
    ) -> None:
        """Count one lookup; hits also add the audio and compute saved, and a
        ``"made"`` record the compute spent."""
        if outcome == "made":
            self.spent_s += compute_s
        elif outcome == "hit":
            self.hits += 1
            self.audio_s += audio_s
            self.compute_s += compute_s
        elif outcome == "miss":
            self.misses += 1
        else:
            self.errors += 1

    def merge(self, other: Tally) -> None:
        """Add ``other`` in."""
        self.hits += other.hits
        self.misses += other.misses
        self.errors += other.errors
        self.audio_s += other.audio_s
        self.compute_s += other.compute_s
        self.spent_s += other.spent_s


def build_report(
    tallies: dict[str, Tally],
    top: list[gateway_service_pb2.RepeatedSentence],
    since_s: float,
    window_s: int,
    price: Price,
    voice: str = "",
) -> gateway_service_pb2.GetCacheReportResponse:
    """The response for per-voice ``tallies`` (filtered to ``voice`` if set)."""
    names = sorted(v for v in tallies if not voice or v == voice)
    total = Tally()
    for name in names:
        total.merge(tallies[name])
    since = timestamp_pb2.Timestamp()
    since.FromNanoseconds(int(since_s * 1e9))
    return gateway_service_pb2.GetCacheReportResponse(
        overall=_stats("", total, price),
        per_voice=[_stats(n, tallies[n], price) for n in names],
        top_sentences=[t for t in top if not voice or t.voice == voice],
        counting_since=since,
        window_s=window_s,
    )


def _stats(voice: str, c: Tally, price: Price) -> gateway_service_pb2.CacheStats:
    requests = c.hits + c.misses + c.errors
    per_1k = 1000 / requests if requests else 0.0
    return gateway_service_pb2.CacheStats(
        voice=voice, requests=requests, hits=c.hits, misses=c.misses,
        errors=c.errors, hit_rate=c.hits / requests if requests else 0.0,
        audio_from_cache_s=c.audio_s, compute_avoided_s=c.compute_s,
        money_saved=price.saved(c.compute_s), currency_code=price.currency,
        compute_spent_s=c.spent_s, cost_per_1k=price.saved(c.spent_s) * per_1k,
        cost_per_1k_without_cache=price.saved(c.spent_s + c.compute_s) * per_1k,
    )  # fmt: skip


class OutcomeMetrics(Protocol):
    """Where counters mirror each outcome (``gateway.metrics.GatewayMetrics``); a
    Protocol, so this package needs nothing from the gateway modules above it."""

    def cache_outcome(self, voice: str, outcome: str) -> None:
        """Count one lookup: ``"hit"``, ``"miss"`` or ``"error"``."""
        ...


class ReportCounters(Protocol):
    """Where lookups are counted and the cache report is read: the seam the lookup,
    pipeline, servicer and app see (:class:`CacheCounters` in memory,
    :class:`gateway.cache.report.RedisCacheCounters` shared in Redis)."""

    def record(
        self,
        voice: str,
        outcome: Outcome,
        audio_s: float = 0.0,
        compute_s: float = 0.0,
        digest: str = "",
        preview: str = "",
    ) -> None:
        """Count one sentence lookup; never blocks the request, never raises."""
        ...

    async def report(
        self, request: gateway_service_pb2.GetCacheReportRequest
    ) -> gateway_service_pb2.GetCacheReportResponse:
        """The report for ``request`` (voice filter, window, top sentences).

        Raises:
            NotReady: The counters' store cannot answer now.
        """
        ...

    async def close(self) -> None:
        """Flush what is pending (best effort)."""
        ...


class CacheCounters:
    """Lookup outcomes per voice since the gateway started, in memory.

    Used without Redis (then every lookup is a miss of the no-op cache and is not
    counted at all); windows and top sentences need the Redis counters.
    """

    def __init__(
        self, metrics: OutcomeMetrics | None = None, price: Price | None = None
    ) -> None:
        """Start counting now; mirror outcomes into ``metrics`` when given."""
        self.counting_since = time.time()
        self._metrics, self._price = metrics, price or Price()
        self._voices: dict[str, Tally] = defaultdict(Tally)

    def record(
        self,
        voice: str,
        outcome: Outcome,
        audio_s: float = 0.0,
        compute_s: float = 0.0,
        digest: str = "",
        preview: str = "",
    ) -> None:
        """Count one sentence lookup (``digest``/``preview`` feed top sentences)."""
        self._voices[voice].add(outcome, audio_s, compute_s)
        if self._metrics is not None and outcome != "made":
            self._metrics.cache_outcome(voice, outcome)

    async def report(
        self, request: gateway_service_pb2.GetCacheReportRequest
    ) -> gateway_service_pb2.GetCacheReportResponse:
        """The report for ``request`` (its voice filter applies; window is ignored)."""
        return build_report(
            dict(self._voices), [], self.counting_since, 0, self._price, request.voice
        )

    async def close(self) -> None:
        """Nothing to flush."""
