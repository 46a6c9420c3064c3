"""Cache counters behind GetCacheReport (all zero until a real cache is plugged in)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from google.protobuf import timestamp_pb2
from tts.v1 import gateway_service_pb2

__all__ = ["CacheCounters", "Outcome"]

Outcome = str
"""``"hit"``, ``"miss"`` or ``"error"``."""


@dataclass
class _VoiceCounts:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    audio_from_cache_s: float = 0.0
    compute_avoided_s: float = 0.0


class CacheCounters:
    """Lookup outcomes per voice since the gateway started.

    Windows (``window_s``) and top sentences need timestamped entries, which come
    with the Redis cache; until then the report covers everything since start.
    """

    def __init__(self) -> None:
        """Start counting now."""
        self.counting_since = time.time()
        self._voices: dict[str, _VoiceCounts] = defaultdict(_VoiceCounts)

    def record(
        self,
        voice: str,
        outcome: Outcome,
        audio_s: float = 0.0,
        compute_s: float = 0.0,
    ) -> None:
        """Count one sentence lookup; hits also add the audio and compute saved."""
        counts = self._voices[voice]
        if outcome == "hit":
            counts.hits += 1
            counts.audio_from_cache_s += audio_s
            counts.compute_avoided_s += compute_s
        elif outcome == "miss":
            counts.misses += 1
        else:
            counts.errors += 1

    def report(
        self, request: gateway_service_pb2.GetCacheReportRequest
    ) -> gateway_service_pb2.GetCacheReportResponse:
        """The report for ``request`` (its voice filter applies; window is ignored)."""
        names = sorted(
            v for v in self._voices if not request.voice or v == request.voice
        )
        per_voice = [_stats(name, self._voices[name]) for name in names]
        total = _VoiceCounts()
        for name in names:
            c = self._voices[name]
            total.hits += c.hits
            total.misses += c.misses
            total.errors += c.errors
            total.audio_from_cache_s += c.audio_from_cache_s
            total.compute_avoided_s += c.compute_avoided_s
        since = timestamp_pb2.Timestamp()
        since.FromNanoseconds(int(self.counting_since * 1e9))
        return gateway_service_pb2.GetCacheReportResponse(
            overall=_stats("", total),
            per_voice=per_voice,
            counting_since=since,
            window_s=0,
        )


def _stats(voice: str, c: _VoiceCounts) -> gateway_service_pb2.CacheStats:
    requests = c.hits + c.misses + c.errors
    return gateway_service_pb2.CacheStats(
        voice=voice,
        requests=requests,
        hits=c.hits,
        misses=c.misses,
        errors=c.errors,
        hit_rate=c.hits / requests if requests else 0.0,
        audio_from_cache_s=c.audio_from_cache_s,
        compute_avoided_s=c.compute_avoided_s,
    )
