"""The per-sentence phrase-cache seam: a Protocol, its key, and a no-op cache.

Key design (``SentenceKey.digest``): a SHA-256 over the schema version, the voice,
the acoustic and vocoder checkpoint revisions (content hashes, so a model update
never serves stale audio), the sentence's symbol string after the frontend (so
different spellings of the same speech share an entry), emotion, speaker, speed and
the model's sample rate. **Volume is deliberately not in the key**: the entry holds
PCM before gain, and the request's gain (plus any SSML gain) is applied at the
edge, so one entry serves every volume. Encoding and resampling also happen on the
way out. The Redis implementation lives in :mod:`gateway.redis_cache`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Protocol

__all__ = [
    "CACHE_SCHEMA_VERSION",
    "CacheUnavailable",
    "CachedSentence",
    "Flight",
    "NoopPhraseCache",
    "PhraseCache",
    "SentenceKey",
    "analysis_digest",
]

CACHE_SCHEMA_VERSION = 1
"""Bumped whenever the key fields or the stored layout change (old entries miss)."""


@dataclass(frozen=True)
class SentenceKey:
    """Everything that changes one sentence's model-rate PCM.

    Request gain and the sentence's trailing break are applied after the cache (at
    the gateway's edge), so they are not part of the key: one entry serves every
    volume. Output encoding and rate are edge concerns too; ``sample_rate_hz`` is
    the model's rate, which only changes with the model.
    """

    voice: str
    """Voice name."""
    acoustic_revision: str
    """Acoustic model revision, SHA-256 hex."""
    vocoder_revision: str
    """Vocoder revision, SHA-256 hex."""
    symbols: str
    """The sentence's KAN-TTS symbol string (normalized text, emotion, speaker)."""
    emotion: str
    """Emotion id sent to the acoustic stage."""
    speaker: str
    """Speaker id sent to the acoustic stage."""
    speed: float
    """Speaking-rate multiplier sent to the acoustic stage."""
    sample_rate_hz: int
    """The model's native rate, in Hz."""

    def digest(self) -> str:
        """SHA-256 hex over the schema version and every field (stable JSON)."""
        fields = {"schema": CACHE_SCHEMA_VERSION, **asdict(self)}
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def analysis_digest(
    text: str, ssml: bool, voice: str, emotion: str, speaker: str, revision: str
) -> str:
    """SHA-256 hex of what decides the frontend's analysis of a request: the text
    and its options, and the frontend's revision (so an update never serves a
    stale analysis)."""
    fields = {
        "schema": CACHE_SCHEMA_VERSION, "text": text, "ssml": ssml, "voice": voice,
        "emotion": emotion, "speaker": speaker, "frontend_revision": revision,
    }  # fmt: skip
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedSentence:
    """One sentence's audio as the cache stores it."""

    pcm: bytes
    """Mono int16 little-endian PCM at ``SentenceKey.sample_rate_hz``, before gain."""
    compute_s: float
    """Seconds of model time it took to make (what a hit avoids)."""


class CacheUnavailable(Exception):
    """The cache could not answer (down, slow, or backing off after an error)."""


class Flight(Protocol):
    """The right (and duty) to synthesize one key while others wait for it."""

    async def finish(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Store the finished sentence under ``key`` and wake every waiter."""
        ...

    def abandon(self) -> None:
        """Give up (failure or cancellation): nothing is stored and a waiter takes
        over. Synchronous, so it is safe in a ``finally`` of a cancelled task."""
        ...

    @property
    def awaited(self) -> bool:
        """Whether other callers wait for this synthesis now (then the work goes on
        when its own caller leaves)."""
        ...


class PhraseCache(Protocol):
    """Where the pipeline looks sentences up and stores finished ones.

    A cache can never fail a request: ``lookup`` raises only
    :class:`CacheUnavailable` (the pipeline counts an error and synthesizes),
    ``join`` falls back to a local-only flight, and a failed commit is dropped.
    """

    @property
    def enabled(self) -> bool:
        """False for a cache that stores nothing (its lookups are not counted)."""
        ...

    async def lookup(self, key: SentenceKey) -> CachedSentence | None:
        """The stored sentence, or None on a miss.

        Raises:
            CacheUnavailable: The cache could not answer in time.
        """
        ...

    async def lookup_analysis(
        self, voice: str, revision: str, digest: str
    ) -> bytes | None:
        """A serialized ``AnalyzeResponse`` stored under ``digest``, or None.

        Raises:
            CacheUnavailable: The cache could not answer in time.
        """
        ...

    async def commit_analysis(
        self, voice: str, revision: str, digest: str, blob: bytes
    ) -> None:
        """Store a serialized analysis (never raises)."""
        ...

    async def join(self, key: SentenceKey, wait_s: float) -> CachedSentence | Flight:
        """After a miss: the entry once a concurrent synthesis of ``key`` (here or
        on another replica) made it, or a :class:`Flight` when the caller is to make
        it. Waits at most ``wait_s``, then answers a flight."""
        ...

    async def commit(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Store a sentence that completed; never called after failure or cancel."""
        ...


class NoopPhraseCache:
    """The cache used until the Redis one exists: always misses, stores nothing."""

    @property
    def enabled(self) -> bool:
        """Always False."""
        return False

    async def lookup(self, key: SentenceKey) -> CachedSentence | None:
        """Always a miss."""
        return None

    async def lookup_analysis(
        self, voice: str, revision: str, digest: str
    ) -> bytes | None:
        """Always a miss."""
        return None

    async def commit_analysis(
        self, voice: str, revision: str, digest: str, blob: bytes
    ) -> None:
        """Drops the analysis."""

    async def join(self, key: SentenceKey, wait_s: float) -> CachedSentence | Flight:
        """Always a flight that stores nothing."""
        return _NoFlight()

    async def commit(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Drops the entry."""
        return None


class _NoFlight:
    """A flight nobody waits on and that stores nothing."""

    async def finish(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Drops the entry."""

    def abandon(self) -> None:
        """Nothing to release."""

    @property
    def awaited(self) -> bool:
        """Nobody waits on it."""
        return False
