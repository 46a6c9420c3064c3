"""``RedisCacheCounters``: cache-report counters kept in Redis, shared by replicas.

Layout (no key has a TTL, so a ``volatile-*`` eviction policy never drops them;
they survive gateway restarts but not a restart of a Redis without persistence):

- ``tts:stats:since``: epoch seconds when counting started (``SET NX``).
- ``tts:stats:all``, ``tts:stats:m:<minute>`` and ``tts:stats:h:<hour>``: hashes
  with fields ``<voice>|hits``, ``|misses``, ``|errors`` (HINCRBY) and ``|audio_s``,
  ``|compute_s``, ``|spent_s`` (HINCRBYFLOAT); ``<minute>`` is epoch seconds // 60, ``<hour>``
  minute // 60.
- ``tts:stats:req:<all|minute|h:hour>`` / ``tts:stats:hit:<...>``: sorted sets of
  lookups and hits per sentence digest, for the top repeated sentences.
- ``tts:stats:hours_since``: the first minute counted into hour buckets (``SET NX``;
  earlier hours are read from their minutes).
- ``tts:stats:meta``: digest -> JSON ``{"voice", "preview"}`` (preview only when
  the operator enabled text previews).

A window (1 s to 30 days) is counted in whole minutes: the minute under way and
those before it, ``window_s`` rounded up to whole minutes in all (600 s asked, 600
read), whole hours from their hour buckets (:mod:`gateway.cache.windows`), so a
30-day report reads about 840 hashes; the report says how many seconds it covered.
Top sentences are ranked in Redis (ZUNIONSTORE into a short-lived key), and only a
page at a time comes back. Writes leave the request path: :meth:`record` queues, a
background task flushes in one pipeline, and :meth:`report` flushes first, so a
replica's report includes all it served.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis

from gateway.cache.pricing import Price
from gateway.cache.stats import (
    DEFAULT_TOP,
    Outcome,
    OutcomeMetrics,
    Tally,
    build_report,
)
from gateway.cache.windows import window_buckets
from sambert_tts_protos.v1 import gateway_service_pb2
from tts_common.errors import NotReady

__all__ = ["STATS_PREFIX", "RedisCacheCounters", "report_to_dict"]

_LOGGER = logging.getLogger(__name__)
STATS_PREFIX = "tts:stats:"
_FIELDS = ("hits", "misses", "errors", "audio_s", "compute_s", "spent_s")
_PLURAL = {"hit": "hits", "miss": "misses", "error": "errors"}
_MAX_PENDING = 100_000
_REPORT_TIMEOUT_S = 10.0
_FLUSH_DELAY_S = 0.05
_BATCH = 1000
"""Commands per pipeline round trip when a report reads many buckets."""
_PAGE = 200
"""Ranked digests fetched per round trip for the top sentences."""
_MAX_RANKED = 10_000
"""With a voice filter, the top sentences are looked for among this many at most."""
_TMP_TTL_S = 60
_T = TypeVar("_T")


class RedisCacheCounters:
    """Counters in Redis; records are queued and flushed off the request path."""

    def __init__(
        self,
        client: aioredis.Redis,
        metrics: OutcomeMetrics | None = None,
        price: Price | None = None,
        previews: bool = False,
    ) -> None:
        """Count into ``client``'s Redis; mirror outcomes into ``metrics``."""
        self._client, self._metrics = client, metrics
        self._price, self._previews = price or Price(), previews
        self._pending: list[tuple[float, str, Outcome, float, float, str, str]] = []
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    def record(
        self,
        voice: str,
        outcome: Outcome,
        audio_s: float = 0.0,
        compute_s: float = 0.0,
        digest: str = "",
        preview: str = "",
    ) -> None:
        """Queue one lookup and schedule a flush; never blocks, never raises."""
        if self._metrics is not None and outcome != "made":
            self._metrics.cache_outcome(voice, outcome)
        if len(self._pending) >= _MAX_PENDING:
            return  # Redis has been down for long: drop rather than grow unbounded
        kept = preview if self._previews else ""
        self._pending.append(
            (time.time(), voice, outcome, audio_s, compute_s, digest, kept)
        )
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_quietly())

    async def _flush_quietly(self, delay_s: float = _FLUSH_DELAY_S) -> None:
        # The delay batches the records of concurrent requests into one pipeline.
        await asyncio.sleep(delay_s)
        try:
            await self.flush()
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            _LOGGER.warning(
                "cache counters not flushed (%s); kept for the next try",
                type(exc).__name__,
            )

    async def flush(self) -> None:
        """Write every queued record in one pipeline; on failure they stay queued.

        Raises:
            redis.RedisError, OSError, TimeoutError: Redis failed.
        """
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await asyncio.wait_for(self._write(batch), _REPORT_TIMEOUT_S)
            except BaseException:
                self._pending[:0] = batch
                raise

    async def _write(
        self, batch: list[tuple[float, str, Outcome, float, float, str, str]]
    ) -> None:
        # Summed in Python first: one command per counter, not per record. Encoding a
        # command per record (11 for a hit) stalled the event loop for ~6 ms per
        # flush under back-to-back cached requests: that was the p99 of the cache.
        ints: dict[tuple[str, str], int] = defaultdict(int)
        floats: dict[tuple[str, str], float] = defaultdict(float)
        ranks: dict[tuple[str, str], int] = defaultdict(int)
        meta: dict[str, tuple[str, str]] = {}  # digest -> its latest (voice, preview)
        for at, voice, outcome, audio_s, compute_s, digest, preview in batch:
            minute = str(int(at // 60))
            hour = f"h:{int(at // 3600)}"
            for scope in ("all", f"m:{minute}", hour):
                name = STATS_PREFIX + scope
                if outcome == "made":
                    floats[name, f"{voice}|spent_s"] += compute_s
                    continue
                ints[name, f"{voice}|{_PLURAL.get(outcome, 'errors')}"] += 1
                if outcome == "hit":
                    floats[name, f"{voice}|audio_s"] += audio_s
                    floats[name, f"{voice}|compute_s"] += compute_s
            if digest:
                for scope in ("all", minute, hour):
                    ranks[f"{STATS_PREFIX}req:{scope}", digest] += 1
                    if outcome == "hit":
                        ranks[f"{STATS_PREFIX}hit:{scope}", digest] += 1
                meta[digest] = (voice, preview)
        pipe = self._client.pipeline(transaction=False)
        pipe.set(STATS_PREFIX + "since", repr(batch[0][0]), nx=True)
        pipe.set(STATS_PREFIX + "hours_since", int(batch[0][0] // 60), nx=True)
        for (name, field), count in ints.items():
            pipe.hincrby(name, field, count)
        for (name, field), amount in floats.items():
            pipe.hincrbyfloat(name, field, amount)
        for (name, digest), count in ranks.items():
            pipe.zincrby(name, count, digest)
        if meta:
            pipe.hset(
                STATS_PREFIX + "meta",
                mapping={
                    digest: json.dumps({"voice": v, "preview": p}, ensure_ascii=False)
                    for digest, (v, p) in meta.items()
                },
            )
        await pipe.execute()

    async def report(
        self, request: gateway_service_pb2.GetCacheReportRequest
    ) -> gateway_service_pb2.GetCacheReportResponse:
        """Per voice and overall over the requested window, plus top sentences.

        Raises:
            NotReady: Redis is unreachable (the report needs it; synthesis does not).
        """
        try:
            return await asyncio.wait_for(self._report(request), _REPORT_TIMEOUT_S)
        except TimeoutError as exc:
            raise NotReady(
                f"cache report did not finish within {_REPORT_TIMEOUT_S:g} s (Redis "
                "slow or busy); retry later, or ask for a shorter window"
            ) from exc
        except (aioredis.RedisError, OSError) as exc:
            raise NotReady(
                "cache report needs Redis, which is unreachable; retry later"
            ) from exc

    async def _report(
        self, request: gateway_service_pb2.GetCacheReportRequest
    ) -> gateway_service_pb2.GetCacheReportResponse:
        await self.flush()
        now = time.time()
        since_raw, hours_raw = await self._client.mget(
            [STATS_PREFIX + "since", STATS_PREFIX + "hours_since"]
        )
        since = float(since_raw) if since_raw else now
        if request.window_s:
            hours_from = int(hours_raw) if hours_raw else None
            buckets = window_buckets(now, request.window_s, hours_from)
            hashes, ranks, window = buckets.hashes, buckets.ranks, buckets.seconds
        else:
            hashes, ranks, window = ["all"], ["all"], 0
        tallies: dict[str, Tally] = defaultdict(Tally)
        for batch in _chunks(hashes, _BATCH):
            pipe = self._client.pipeline(transaction=False)
            for name in batch:
                pipe.hgetall(STATS_PREFIX + name)
            _add(tallies, await pipe.execute())
        top = await self._top(
            ranks, request.max_top_sentences or DEFAULT_TOP, request.voice
        )
        return build_report(
            dict(tallies), top, since, window, self._price, request.voice
        )

    async def _top(
        self, scopes: list[str], limit: int, voice: str
    ) -> list[gateway_service_pb2.RepeatedSentence]:
        """The most looked-up sentences over ``scopes`` (``all``, minutes, hours):
        summed in Redis, read a page at a time."""
        if scopes == ["all"]:
            return await self._ranked(
                STATS_PREFIX + "req:all", STATS_PREFIX + "hit:all", limit, voice
            )
        token = f"{STATS_PREFIX}tmp:{uuid.uuid4().hex}"
        req, hit = f"{token}:req", f"{token}:hit"
        pipe = self._client.pipeline(transaction=False)
        pipe.zunionstore(req, [f"{STATS_PREFIX}req:{s}" for s in scopes])
        pipe.zunionstore(hit, [f"{STATS_PREFIX}hit:{s}" for s in scopes])
        pipe.expire(req, _TMP_TTL_S)  # in case the delete below never runs
        pipe.expire(hit, _TMP_TTL_S)
        try:
            await pipe.execute()
            return await self._ranked(req, hit, limit, voice)
        finally:
            await self._client.delete(req, hit)

    async def _ranked(
        self, requests: str, hits: str, limit: int, voice: str
    ) -> list[gateway_service_pb2.RepeatedSentence]:
        """The first ``limit`` digests of sorted set ``requests`` (of ``voice``)."""
        out: list[gateway_service_pb2.RepeatedSentence] = []
        for start in range(0, _MAX_RANKED, _PAGE):
            page = cast(
                list[tuple[bytes, float]],
                await self._client.zrevrange(
                    requests, start, start + _PAGE - 1, withscores=True
                ),
            )
            ranked = sorted(
                ((m.decode(), s) for m, s in page), key=lambda kv: (-kv[1], kv[0])
            )
            digests = [d for d, _ in ranked]
            if not digests:
                break
            pipe = self._client.pipeline(transaction=False)
            pipe.hmget(STATS_PREFIX + "meta", digests)
            pipe.zmscore(hits, digests)
            metas, hit_counts = await pipe.execute()
            for (digest, count), raw, hit in zip(
                ranked, metas, hit_counts, strict=True
            ):
                meta = json.loads(raw) if raw else {"voice": "", "preview": ""}
                if voice and meta["voice"] != voice:
                    continue
                out.append(gateway_service_pb2.RepeatedSentence(
                    key_hash=digest, voice=meta["voice"], requests=math.floor(count),
                    hits=math.floor(hit or 0.0), text_preview=meta["preview"],
                ))  # fmt: skip
                if len(out) >= limit:
                    return out
            if len(page) < _PAGE:
                break
        return out

    async def close(self) -> None:
        """Flush what is queued (best effort)."""
        await self._flush_quietly(0.0)


def _add(tallies: dict[str, Tally], hashes: list[Any]) -> None:
    """Add counter hashes (``<voice>|<field>`` -> value) into ``tallies``."""
    for fields in hashes:
        for raw_field, raw_value in fields.items():
            voice, _, what = raw_field.decode().rpartition("|")
            tally = tallies[voice]
            if what in _FIELDS:
                value = float(raw_value)
                kind = int if what in ("hits", "misses", "errors") else float
                setattr(tally, what, getattr(tally, what) + kind(value))


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stats(s: gateway_service_pb2.CacheStats) -> dict[str, Any]:
    return {
        "requests": s.requests, "hits": s.hits, "misses": s.misses,
        "errors": s.errors, "hit_rate": s.hit_rate,
        "audio_from_cache_s": s.audio_from_cache_s,
        "compute_avoided_s": s.compute_avoided_s,
        "money_saved": s.money_saved, "currency": s.currency_code,
        "compute_spent_s": s.compute_spent_s, "cost_per_1k": s.cost_per_1k,
        "cost_per_1k_without_cache": s.cost_per_1k_without_cache,
    }  # fmt: skip


def report_to_dict(reply: gateway_service_pb2.GetCacheReportResponse) -> dict[str, Any]:
    """The report as plain JSON-able data (keys as the issue names them)."""
    return {
        "counting_since": reply.counting_since.ToJsonString(),
        "window_s": reply.window_s,
        "overall": _stats(reply.overall),
        "per_voice": {v.voice: _stats(v) for v in reply.per_voice},
        "top_sentences": [
            {"key_hash": t.key_hash, "voice": t.voice, "requests": t.requests,
             "hits": t.hits, "text_preview": t.text_preview}
            for t in reply.top_sentences
        ],
    }  # fmt: skip
