"""Singleflight for sentence synthesis: concurrent misses of one key synthesize once.

Two levels. In one process, the first coroutine to miss a key owns a *slot* (a
future); the others await it. The owner then competes across replicas for a Redis
lock (``SET tts:lock:<digest> <token> NX PX ttl``). Winning, it synthesizes (a
:class:`RedisFlight`), refreshing the lock while it works and releasing it with a
compare-and-delete script after the commit. Losing, it polls Redis for the entry
and the lock: the entry appears, or the lock vanishes (its holder failed, was
cancelled or died, and the lock ran out) and it competes again, i.e. takes over.

When the owner's caller leaves while others in the process wait for the sentence,
the pipeline lets the synthesis run on (:attr:`RedisFlight.awaited`), so the work
goes on while any waiter remains. When the owner fails (or leaves with nobody
waiting), its slot resolves to None, its lock is released, and a waiter, local or
on another replica, takes over and synthesizes the sentence itself. A Redis outage
degrades to the in-process level only: the owner synthesizes without a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis

from gateway.cache.keys import SentenceKey
from gateway.cache.phrase_cache import (
    CachedSentence,
    CacheUnavailable,
    Flight,
    UnsharedFlight,
)

__all__ = ["LOCK_PREFIX", "RedisFlight", "Singleflight"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

LOCK_PREFIX = "tts:lock:"
"""Lock keys; they always carry a TTL, so a dead holder never blocks forever."""

# Only the holder (same token) may extend or delete its lock: a holder that stalled
# past the TTL must not delete the lock of the replica that took over.
_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)


class _Store(Protocol):
    """What the singleflight needs from the cache (see RedisPhraseCache)."""

    async def op(self, fn: Callable[[aioredis.Redis], Awaitable[_T]]) -> _T:
        """Run one Redis call under the cache's timeout and back-off."""
        ...

    async def lookup(self, key: SentenceKey) -> CachedSentence | None:
        """The stored entry or None."""
        ...

    async def commit(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Store an entry (never raises)."""
        ...


class RedisFlight:
    """The owner's flight: maybe a Redis lock, always the local slot."""

    def __init__(
        self,
        flights: Singleflight,
        digest: str,
        slot: asyncio.Future[CachedSentence | None],
        token: str | None,
    ) -> None:
        """Hold ``slot`` (and the lock with ``token`` unless it is None)."""
        self._flights, self._digest, self._slot, self._token = (
            flights,
            digest,
            slot,
            token,
        )
        self._refresher: asyncio.Task[None] | None = None
        if token is not None:
            self._refresher = asyncio.create_task(self._refresh())

    async def finish(self, key: SentenceKey, entry: CachedSentence) -> None:
        """Commit, then wake local waiters with the entry and release the lock."""
        await self._flights.store.commit(key, entry)
        self._end(entry)

    def abandon(self) -> None:
        """Release without storing; a waiter takes over."""
        self._end(None)

    @property
    def awaited(self) -> bool:
        """Whether callers in this process wait for this synthesis now."""
        return self._flights.waiting(self._digest) > 0

    def _end(self, entry: CachedSentence | None) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        self._flights.resolve(self._digest, self._slot, entry)
        if self._token is not None:
            self._flights.release_later(self._digest, self._token)
            self._token = None

    async def _refresh(self) -> None:
        """Extend the lock every third of its TTL while the synthesis runs."""
        ttl_ms = int(self._flights.lock_ttl_s * 1000)
        while True:
            await asyncio.sleep(self._flights.lock_ttl_s / 3)
            try:
                await self._flights.store.op(
                    lambda r: r.eval(
                        _REFRESH,
                        1,
                        self._flights.lock_key(self._digest),
                        self._token or "",
                        ttl_ms,
                    )
                )
            except CacheUnavailable:
                pass  # the lock may lapse; at worst another replica also synthesizes


class Singleflight:
    """Coalesces concurrent misses, in process and across replicas."""

    def __init__(self, store: _Store, lock_ttl_s: float, poll_s: float) -> None:
        """Use ``store`` for Redis calls; locks live ``lock_ttl_s``, waiters poll
        every ``poll_s``."""
        self.store, self.lock_ttl_s, self._poll_s = store, lock_ttl_s, poll_s
        self._slots: dict[str, asyncio.Future[CachedSentence | None]] = {}
        self._waiting: dict[str, int] = {}
        self._releases: set[asyncio.Task[Any]] = set()

    def waiting(self, digest: str) -> int:
        """How many local callers wait for ``digest``'s slot."""
        return self._waiting.get(digest, 0)

    @staticmethod
    def lock_key(digest: str) -> str:
        """The Redis lock key of a cache key digest."""
        return LOCK_PREFIX + digest

    async def join(self, key: SentenceKey, wait_s: float) -> CachedSentence | Flight:
        """The entry made by a concurrent synthesis, or a flight to make it."""
        digest = key.digest()
        give_up = time.monotonic() + max(wait_s, 0.0)
        while True:
            slot = self._slots.get(digest)
            if slot is None:
                return await self._own(key, digest, give_up)
            left = give_up - time.monotonic()
            self._waiting[digest] = self._waiting.get(digest, 0) + 1
            try:
                entry = await asyncio.wait_for(asyncio.shield(slot), max(left, 0.0))
            except TimeoutError:
                return UnsharedFlight()
            finally:
                self._waiting[digest] -= 1
                if not self._waiting[digest]:
                    del self._waiting[digest]
            if entry is not None:
                return entry
            # The owner failed or left: loop, and maybe own the slot ourselves.

    async def _own(
        self, key: SentenceKey, digest: str, give_up: float
    ) -> CachedSentence | Flight:
        """Own the local slot: win the Redis lock, or wait for whoever holds it."""
        slot: asyncio.Future[CachedSentence | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._slots[digest] = slot  # before any await: local peers now wait on us
        ttl_ms = int(self.lock_ttl_s * 1000)
        try:
            while True:
                token = secrets.token_hex(16)
                try:
                    won = await self.store.op(
                        # Awaited here, before the loop moves on to a new token.
                        lambda r: r.set(
                            self.lock_key(digest),
                            token,  # noqa: B023
                            nx=True,
                            px=ttl_ms,
                        )
                    )
                except CacheUnavailable:
                    return RedisFlight(self, digest, slot, None)  # fail open
                if won:
                    return RedisFlight(self, digest, slot, token)
                entry = await self._wait_remote(key, digest, give_up)
                if entry is not None:
                    self.resolve(digest, slot, entry)
                    return entry
                if time.monotonic() >= give_up:
                    return RedisFlight(self, digest, slot, None)
        except BaseException:
            self.resolve(digest, slot, None)  # a local waiter takes over
            raise

    async def _wait_remote(
        self, key: SentenceKey, digest: str, give_up: float
    ) -> CachedSentence | None:
        """Poll until the entry appears (returned) or the lock is gone (None)."""
        while time.monotonic() < give_up:
            await asyncio.sleep(self._poll_s)
            try:
                entry = await self.store.lookup(key)
                if entry is not None:
                    return entry
                held = await self.store.op(lambda r: r.exists(self.lock_key(digest)))
            except CacheUnavailable:
                return None  # compete again; winning fails open
            if not held:
                return None
        return None

    def resolve(
        self,
        digest: str,
        slot: asyncio.Future[CachedSentence | None],
        entry: CachedSentence | None,
    ) -> None:
        """Wake the slot's waiters with ``entry`` (None: take over) and free it."""
        if self._slots.get(digest) is slot:
            del self._slots[digest]
        if not slot.done():
            slot.set_result(entry)

    def release_later(self, digest: str, token: str) -> None:
        """Delete our lock in the background (callable while being cancelled)."""

        async def release() -> None:
            with contextlib.suppress(CacheUnavailable):
                await self.store.op(
                    lambda r: r.eval(_RELEASE, 1, self.lock_key(digest), token)
                )

        task = asyncio.create_task(release())
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def drain(self) -> None:
        """Wait for pending lock releases (on close)."""
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
