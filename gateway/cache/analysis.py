"""The frontend's analysis, cached in Redis and coalesced in process.

A fully cached request then needs no stage at all, and a burst of identical
requests makes one frontend call instead of overflowing its inference queue.
The key (:class:`gateway.cache.AnalysisKey`) covers the text, its options and
the frontend's revision as the voice catalog last read it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.cache.keys import AnalysisKey
from gateway.cache.phrase_cache import PhraseCache
from sambert_tts_protos.v1 import frontend_service_pb2

__all__ = ["AnalysisCache"]

_LOGGER = logging.getLogger(__name__)
_Analysis = frontend_service_pb2.AnalyzeResponse


class AnalysisCache:
    """Looks analyses up before the frontend, stores them after."""

    def __init__(self, cache: PhraseCache) -> None:
        """Store through ``cache`` (a disabled cache turns all of this off)."""
        self._cache = cache
        self._in_flight: dict[str, asyncio.Future[_Analysis | None]] = {}

    async def get(
        self,
        key: AnalysisKey,
        fetch: Callable[[], Awaitable[_Analysis]],
    ) -> _Analysis:
        """The analysis ``key`` names: cached, joined to an identical call in
        flight, or ``fetch()``-ed and stored.

        Raises:
            Whatever ``fetch`` raises (every joined caller gets it too).
        """
        if not self._cache.enabled:
            return await fetch()
        voice, revision = key.voice, key.frontend_revision
        digest = key.digest()
        running = self._in_flight.get(digest)
        if running is not None:
            joined = await asyncio.shield(running)
            if joined is not None:
                return joined
            return await fetch()  # the owner's caller left; ours has not
        future: asyncio.Future[_Analysis | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._in_flight[digest] = future  # before any await: later peers join us
        try:
            analysis = await self._cached(voice, revision, digest)
            if analysis is None:
                analysis = await fetch()
                blob = analysis.SerializeToString()
                await self._cache.commit_analysis(voice, revision, digest, blob)
            future.set_result(analysis)
            return analysis
        except asyncio.CancelledError:
            future.set_result(None)  # joined callers fetch for themselves
            raise
        except Exception as exc:
            future.set_exception(exc)  # joined callers get the same failure
            future.exception()  # mark it retrieved: no warning when nobody joined
            raise
        finally:
            del self._in_flight[digest]

    async def _cached(self, voice: str, revision: str, digest: str) -> _Analysis | None:
        """The stored analysis; None on a miss or an outage (counted per sentence)."""
        try:
            blob = await self._cache.lookup_analysis(voice, revision, digest)
        except Exception as exc:  # CacheUnavailable
            _LOGGER.debug("analysis cache unavailable (%s)", type(exc).__name__)
            return None
        return _Analysis.FromString(blob) if blob is not None else None
