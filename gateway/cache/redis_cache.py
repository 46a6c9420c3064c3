"""``RedisPhraseCache``: the per-sentence phrase cache on Redis (redis-py asyncio).

Layout. An entry is one string key
``tts:a:<voice>:<acoustic rev[:12]>:<vocoder rev[:12]>:<SHA-256 digest>`` whose value
is ``b"TTS2"``, a 32-byte integrity tag, a 4-byte big-endian header length, a JSON
header (``compute_s``, ``sample_rate_hz``) and the sentence's int16 PCM at the model
rate, before gain (see :mod:`gateway.cache.keys` for why volume is not in the key). The
voice and revision prefixes exist only so :meth:`RedisPhraseCache.purge` can find
entries with ``SCAN MATCH``; the digest alone decides a hit. An analysis is ``b"TTF2"``,
its tag and the serialized ``AnalyzeResponse``. The tag is an HMAC over the value and
its key's digest (:mod:`gateway.cache.integrity`): a value that fails it is a miss,
counted, and overwritten by the fresh result.

Every audio key carries a TTL, which each hit renews (``GETEX ... EX``: a sliding
TTL), so under ``maxmemory`` with a ``volatile-lru``/``volatile-lfu`` policy Redis
evicts audio and never the TTL-less report counters. Sentences longer than
``max_entry_bytes`` are not stored.

Fail-open: every call runs under a budget that follows measured latencies
(:mod:`gateway.cache.timeouts`, from ``op_timeout_s`` up to ``op_max_timeout_s``); a
failure raises
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
from typing import Any, TypeVar

import redis.asyncio as aioredis

from gateway.cache.config import CacheConfig
from gateway.cache.integrity import TAG_BYTES, EntrySeal
from gateway.cache.keys import SentenceKey
from gateway.cache.phrase_cache import CachedSentence, CacheUnavailable, Flight
from gateway.cache.singleflight import Singleflight
from gateway.cache.timeouts import AdaptiveTimeout

__all__ = ["ANALYSIS_PREFIX", "AUDIO_PREFIX", "RedisPhraseCache", "entry_key"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

AUDIO_PREFIX = "tts:a:"
"""Prefix of every audio entry."""
ANALYSIS_PREFIX = "tts:f:"
"""Prefix of every cached frontend analysis (same TTL rules as audio)."""
_MAGIC = b"TTS2"
_ANALYSIS_MAGIC = b"TTF2"
_TRIP_AFTER = 3
"""Consecutive Redis failures that make the request path skip Redis a while."""
_REV_CHARS = 12
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def _connection_options(cfg: CacheConfig) -> dict[str, Any]:
    """AUTH password and TLS files for redis-py (a ``rediss://`` URL turns TLS on)."""
    options: dict[str, Any] = {}
    if cfg.redis_password:
        options["password"] = cfg.redis_password
    tls = cfg.redis_tls
    if tls.enabled:
        options.update(ssl_ca_certs=tls.ca_file, ssl_cert_reqs="required")
        if tls.cert_file:
            options.update(ssl_certfile=tls.cert_file, ssl_keyfile=tls.key_file)
    return options


def entry_key(key: SentenceKey) -> str:
    """The Redis key of a sentence entry."""
    return (
        f"{AUDIO_PREFIX}{key.voice}:{key.acoustic_revision[:_REV_CHARS]}:"
        f"{key.vocoder_revision[:_REV_CHARS]}:{key.digest()}"
    )


def _encode(key: SentenceKey, entry: CachedSentence, seal: EntrySeal) -> bytes:
    header = json.dumps({
        "compute_s": entry.compute_s, "sample_rate_hz": key.sample_rate_hz,
        "symbol_frames": list(entry.symbol_frames), "hop_length": entry.hop_length,
    }).encode("utf-8")  # fmt: skip
    body = struct.pack(">I", len(header)) + header + entry.pcm
    return seal.seal(_MAGIC, key.digest(), body)


def _decode(blob: bytes) -> CachedSentence | None:
    """The entry in a stored value, its tag not checked (use :func:`_opened`); None
    for a value of another layout."""
    head = len(_MAGIC) + TAG_BYTES
    return _parse(blob[head:]) if blob.startswith(_MAGIC) else None


def _parse(body: bytes) -> CachedSentence | None:
    """The entry in a value's body (after magic and tag); None when malformed."""
    if len(body) < 4:
        return None
    (size,) = struct.unpack(">I", body[:4])
    try:
        header = json.loads(body[4 : 4 + size])
        frames = tuple(int(n) for n in header.get("symbol_frames", ()))
        return CachedSentence(
            body[4 + size :], float(header["compute_s"]), frames,
            int(header.get("hop_length", 0)),
        )  # fmt: skip
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class RedisPhraseCache:
    """The phrase cache on one Redis; shared by every gateway replica."""

    def __init__(
        self,
        cfg: CacheConfig,
        client: aioredis.Redis | None = None,
        on_integrity_failure: Callable[[str], None] | None = None,
    ) -> None:
        """Connect lazily to ``cfg.redis_url`` (or use ``client``).

        ``on_integrity_failure("audio" | "analysis")`` is called for each stored
        value whose integrity tag does not verify (it is then a miss).
        """
        if client is None:
            if not cfg.redis_url:
                raise ValueError("RedisPhraseCache needs REDIS_URL")
            timeout_s = max(cfg.op_max_timeout_s, 0.5)
            client = aioredis.Redis.from_url(
                cfg.redis_url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                **_connection_options(cfg),
            )
        self._seal = EntrySeal(cfg.hmac_key.encode("utf-8"))
        self._on_integrity_failure = on_integrity_failure or (lambda kind: None)
        self.client, self._cfg = client, cfg
        self._down_until, self._failures = 0.0, 0
        self.timeout = AdaptiveTimeout(cfg.op_timeout_s, cfg.op_max_timeout_s)
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
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(fn(self.client), self.timeout.seconds)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            if isinstance(exc, TimeoutError):
                self.timeout.timed_out()
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
            raise CacheUnavailable(str(exc) or type(exc).__name__) from exc
        self.timeout.observe(time.monotonic() - started)
        self._failures = 0
        return result

    async def lookup(self, key: SentenceKey) -> CachedSentence | None:
        """The entry, its TTL renewed; None on a miss.

        Raises:
            CacheUnavailable: Redis could not answer in time.
        """
        name, ttl = entry_key(key), self._cfg.ttl_s
        blob = await self.op(lambda r: r.getex(name, ex=ttl))
        if blob is None:
            return None
        # A client made with decode_responses would hand back str: not ours.
        body = self._opened("audio", _MAGIC, key.digest(), blob)
        return _parse(body) if body is not None else None

    def _opened(
        self, kind: str, magic: bytes, digest: str, blob: object
    ) -> bytes | None:
        """The body of a stored value, or None (counted) when its tag fails."""
        body = self._seal.open(magic, digest, blob) if isinstance(blob, bytes) else None
        if body is None:
            self._on_integrity_failure(kind)
            _LOGGER.warning(
                "cache %s entry %s failed its integrity check; treated as a miss",
                kind, digest[:16],
            )  # fmt: skip
        return body

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
        if blob is None:
            return None
        return self._opened("analysis", _ANALYSIS_MAGIC, digest, blob)

    async def commit_analysis(
        self, voice: str, revision: str, digest: str, blob: bytes
    ) -> None:
        """Store an analysis with the TTL; a failure only costs the entry."""
        name = f"{ANALYSIS_PREFIX}{voice}:{revision[:_REV_CHARS]}:{digest}"
        value, ttl = self._seal.seal(_ANALYSIS_MAGIC, digest, blob), self._cfg.ttl_s
        try:
            await self.op(lambda r: r.set(name, value, ex=ttl))
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
        name, value = entry_key(key), _encode(key, entry, self._seal)
        ttl = self._cfg.ttl_s
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
