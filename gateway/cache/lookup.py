"""One sentence's cache lookup: hit, joined singleflight, or miss; counted once."""

from __future__ import annotations

import logging

from gateway.cache.keys import SentenceKey
from gateway.cache.phrase_cache import CachedSentence, Flight, PhraseCache
from gateway.cache.stats import ReportCounters

__all__ = ["resolve"]

_LOGGER = logging.getLogger(__name__)
_PREVIEW_CHARS = 24
"""Characters of normalized text kept for the report, when previews are enabled."""


async def resolve(
    cache: PhraseCache,
    counters: ReportCounters,
    key: SentenceKey,
    text: str,
    wait_s: float,
) -> tuple[CachedSentence | None, Flight | None]:
    """Look ``key`` up; on a miss join (or lead) its singleflight; count it.

    A hit is an entry from Redis or from a concurrent synthesis waited for (at
    most ``wait_s``); a miss runs the models; an error means Redis was unusable.

    Returns:
        The entry to serve (a hit), or the flight to synthesize under (a miss),
        or neither (an error: synthesize uncached). A cache that fails, even
        against its contract, never fails the sentence.
    """
    digest, preview = key.digest(), text[:_PREVIEW_CHARS]
    try:
        entry = await cache.lookup(key)
        joined = entry if entry is not None else await cache.join(key, wait_s)
    except Exception as exc:  # CacheUnavailable, or a buggy cache
        _LOGGER.warning(
            "cache lookup failed (%s); synthesizing uncached", type(exc).__name__
        )
        counters.record(key.voice, "error", digest=digest, preview=preview)
        return None, None
    if isinstance(joined, CachedSentence):
        audio_s = len(joined.pcm) / 2 / key.sample_rate_hz
        counters.record(key.voice, "hit", audio_s, joined.compute_s, digest, preview)
        return joined, None
    counters.record(key.voice, "miss", digest=digest, preview=preview)
    return None, joined
