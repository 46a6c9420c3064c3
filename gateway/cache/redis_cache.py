"""``RedisPhraseCache``: the per-sentence phrase cache on Redis (redis-py asyncio).

Layout. An entry is one string key
``tts:a:<voice>:<acoustic rev[:12]>:<vocoder rev[:12]>:<SHA-256 digest>`` whose value
is ``b"TTS1"``, a 4-byte big-endian header length, a JSON header
(``compute_s``, ``sample_rate_hz``) and the sentence's int16 PCM at the model rate,
before gain (see :mod:`gateway.cache.keys` for why volume is not in the key). The voice
and revision prefixes exist only so :meth:`RedisPhraseCache.purge` can find entries
with ``SCAN MATCH``; the digest alone decides a hit.

Every audio key carries a TTL, which each hit renews (``GETEX ... EX``: a sliding
TTL), so under ``maxmemory`` with a ``volatile-lru``/``volatile-lfu`` policy Redis
evicts audio and never the TTL-less report counters. Sentences longer than
``max_entry_bytes`` are not stored.

Fail-open: every call runs under ``op_timeout_s``; a failure raises
:class:`CacheUnavailable` (the pipeline counts an error and synthesizes), and three in
a row make the request path skip Redis for ``retry_after_s``, so an outage costs a
few timeouts, not one per sentence, while one slow answer turns nothing off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from gateway.cache.config import CacheConfig
from gateway.cache.keys import SentenceKey
from gateway.cache.phrase_cache import CachedSentence, CacheUnavailable, Flight
from gateway.cache.singleflight import Singleflight

__all__ = ["ANALYSIS_PREFIX", "AUDIO_PREFIX", "RedisPhraseCache", "entry_key"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

AUDIO_PREFIX = "tts:a:"
"""Prefix of every audio entry."""
ANALYSIS_PREFIX = "tts:f:"
"""Prefix of every cached frontend analysis (same TTL rules as audio)."""
_MAGIC = b"TTS1"
_TRIP_AFTER = 3
"""Consecutive Redis failures that make the request path skip Redis a while."""
_REV_CHARS = 12
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def entry_key(key: SentenceKey) -> str:
    """The Redis key of a sentence entry."""
    return (
        f"{AUDIO_PREFIX}{key.voice}:{key.acoustic_revision[:_REV_CHARS]}:"
        f"{key.vocoder_revision[:_REV_CHARS]}:{key.digest()}"
    )


def _encode(key: SentenceKey, entry: CachedSentence) -> bytes:
    header = json.dumps(
        {"compute_s": entry.compute_s, "sample_rate_hz": key.sample_rate_hz}
    ).encode("utf-8")
    return _MAGIC + struct.pack(">I", len(header)) + header + entry.pcm


def _decode(blob: bytes) -> CachedSentence | None:
    """The entry, or None for a value this code did not write (treated as a miss)."""
    if len(blob) < 8 or not blob.startswith(_MAGIC):
        return None
    (size,) = struct.unpack(">I", blob[4:8])
    header = json.loads(blob[8 : 8 + size])
    return CachedSentence(blob[8 + size :], float(header["compute_s"]))


class RedisPhraseCache:
    """The phrase cache on one Redis; shared by every gateway replica."""

    def __init__(self, cfg: CacheConfig, client: aioredis.Redis | None = None) -> None:
        """Connect lazily to ``cfg.redis_url`` (or use ``client``)."""
        if client is None:
            if not cfg.redis_url:
                raise ValueError("RedisPhraseCache needs REDIS_URL")
            client = aioredis.Redis.from_url(
                cfg.redis_url,
                socket_timeout=max(cfg.op_timeout_s * 4, 0.5),
                socket_connect_timeout=max(cfg.op_timeout_s * 4, 0.5),
            )
        self.client, self._cfg = client, cfg
        self._down_until, self._failures = 0.0, 0
        self.flights = Singleflight(self, cfg.lock_ttl_s, cfg.poll_s)

    @property
    def enabled(self) -> bool:
        """Always True: lookups are counted."""
        return True

    async def op(self, fn: Callable[[aioredis.Redis], Awaitable[_T]]) -> _T:
        """Run one Redis call under the timeout and the back-off after errors.

        Raises:
            CacheUnavailable: Redis is backing off, failed or was too slow.
        """
        if time.monotonic() < self._down_until:
            raise CacheUnavailable("redis backing off after errors")
        try:
            result = await asyncio.wait_for(fn(self.client), self._cfg.op_timeout_s)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            self._failures += 1
            # One slow answer on a busy host must not turn the cache off for
            # everyone (the misses would then overload the models): back off only
            # after a run of failures.
            if self._failures >= _TRIP_AFTER:
                self._down_until = time.monotonic() + self._cfg.retry_after_s
                self._failures = 0
                _LOGGER.warning(
                    "redis cache unavailable (%s); skipping it for %.1f s",
                    type(exc).__name__, self._cfg.retry_after_s,
                )  # fmt: skip
            raise CacheUnavailable(str(exc)) from exc
        self._failures = 0
        return result

    async def lookup(self, key: SentenceKey) -> CachedSentence | None:
        """The entry, its TTL renewed; None on a miss.

        Raises:
            CacheUnavailable: Redis could not answer in time.
        """
        name, ttl = entry_key(key), self._cfg.ttl_s
        blob = await self.op(lambda r: r.getex(name, ex=ttl))
        # A client made with decode_responses would hand back str: not ours.
        return _decode(blob) if isinstance(blob, bytes) else None

    async def lookup_analysis(
        self, voice: str, revision: str, digest: str
    ) -> bytes | None:
        """A stored analysis, its TTL renewed; None on a miss.

        Raises:
            CacheUnavailable: Redis could not answer in time.
        """
        name = f"{ANALYSIS_PREFIX}{voice}:{revision[:_REV_CHARS]}:{digest}"
        ttl = self._cfg.ttl_s
        blob = await self.op(lambda r: r.getex(name, ex=ttl))
        return blob if isinstance(blob, bytes) else None

    async def commit_analysis(
        self, voice: str, revision: str, digest: str, blob: bytes
    ) -> None:
        """Store an analysis with the TTL; a failure only costs the entry."""
        name = f"{ANALYSIS_PREFIX}{voice}:{revision[:_REV_CHARS]}:{digest}"
        ttl = self._cfg.ttl_s
        try:
            await self.op(lambda r: r.set(name, blob, ex=ttl))
        except CacheUnavailable:
            pass  # logged in op()

    async def join(self, key: SentenceKey, wait_s: float) -> CachedSentence | Flight:
        """The entry a concurrent synthesis made, or a flight (see singleflight)."""
        return await self.flights.join(key, wait_s)

    async def commit(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Store a complete sentence with the TTL; too large or failing: dropped."""
        if len(entry.pcm) > self._cfg.max_entry_bytes:
            _LOGGER.info(
                "sentence of %d bytes over the %d-byte entry cap; not cached",
                len(entry.pcm), self._cfg.max_entry_bytes,
            )  # fmt: skip
            return
        name, value, ttl = entry_key(key), _encode(key, entry), self._cfg.ttl_s
        try:
            await self.op(lambda r: r.set(name, value, ex=ttl))
        except CacheUnavailable:
            pass  # logged in op(); the caller already has its audio

    async def purge(self, voice: str = "", revision: str = "") -> int:
        """Delete the entries of a voice and/or a model revision (acoustic, vocoder
        or frontend: audio and cached analyses); both empty purges every entry.
        Uses SCAN, never KEYS, so Redis keeps serving while it runs; not bound by
        the request-path timeout.

        Returns:
            How many entries were deleted.
        """
        v = voice.translate(_GLOB_SPECIAL) if voice else "*"
        rev = revision[:_REV_CHARS].translate(_GLOB_SPECIAL)
        patterns = (
            [f"{AUDIO_PREFIX}{v}:{rev}*:*:*", f"{AUDIO_PREFIX}{v}:*:{rev}*:*",
             f"{ANALYSIS_PREFIX}{v}:{rev}*:*"]
            if revision
            else [f"{AUDIO_PREFIX}{v}:*", f"{ANALYSIS_PREFIX}{v}:*"]
        )  # fmt: skip
        deleted = 0
        for pattern in patterns:
            batch: list[bytes] = []
            async for name in self.client.scan_iter(match=pattern, count=500):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += int(await self.client.unlink(*batch))
                    batch = []
            if batch:
                deleted += int(await self.client.unlink(*batch))
        _LOGGER.info("purged %d cache entries", deleted)
        return deleted

    async def close(self) -> None:
        """Release pending locks and close the connection pool."""
        await self.flights.drain()
        await self.client.aclose()
