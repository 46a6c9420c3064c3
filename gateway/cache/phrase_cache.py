"""The phrase-cache seam: the Protocol the pipeline calls, and a no-op cache.

Keys are in :mod:`gateway.cache.keys`; the Redis implementation in
:mod:`gateway.cache.redis_cache`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.cache.keys import SentenceKey

__all__ = [
    "CacheUnavailable",
    "CachedSentence",
    "Flight",
    "NoopPhraseCache",
    "PhraseCache",
    "UnsharedFlight",
]


@dataclass(frozen=True)
class CachedSentence:
    """One sentence's audio as the cache stores it."""

    pcm: bytes
    """Mono int16 little-endian PCM at ``SentenceKey.sample_rate_hz``, before gain."""
    compute_s: float
    """Seconds of model time it took to make (what a hit avoids)."""
    symbol_frames: tuple[int, ...] = ()
    """Mel frames each symbol lasts (the acoustic stage's durations), for timings."""
    hop_length: int = 0
    """PCM samples per mel frame; 0 when the durations are unknown."""


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
        return UnsharedFlight()

    async def commit(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Drops the entry."""
        return None


class UnsharedFlight:
    """A flight nobody waits on and that stores nothing.

    The no-op cache's only flight, and the singleflight's flight for a waiter that
    gave up waiting (the owner of the slot commits its own copy).
    """

    async def finish(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Drops the entry: nobody to wake, nothing to store."""

    def abandon(self) -> None:
        """Nothing held, nothing to release."""

    @property
    def awaited(self) -> bool:
        """Nobody waits on it."""
        return False
