"""The per-sentence phrase-cache seam: a Protocol, its key, and a no-op cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Protocol

__all__ = [
    "CACHE_SCHEMA_VERSION",
    "CachedSentence",
    "NoopPhraseCache",
    "PhraseCache",
    "SentenceKey",
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


@dataclass(frozen=True)
class CachedSentence:
    """One sentence's audio as the cache stores it."""

    pcm: bytes
    """Mono int16 little-endian PCM at ``SentenceKey.sample_rate_hz``, before gain."""
    compute_s: float
    """Seconds of model time it took to make (what a hit avoids)."""


class PhraseCache(Protocol):
    """Where the pipeline looks sentences up and stores finished ones.

    Implementations never raise for a cache outage: a lookup that fails answers
    None (and counts an error) and a failed commit is dropped, so the cache can
    never fail a request.
    """

    @property
    def enabled(self) -> bool:
        """False for a cache that stores nothing (its lookups are not counted)."""
        ...

    async def lookup(self, key: SentenceKey) -> CachedSentence | None:
        """The stored sentence, or None on a miss or an error."""
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

    async def commit(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Drops the entry."""
        return None
