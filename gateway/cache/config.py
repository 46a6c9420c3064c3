"""Phrase-cache, report and price settings of the gateway, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tts_common.config import ConfigError, env_fields, env_float, env_secret, env_str
from tts_common.tls import ClientTls

__all__ = ["CacheConfig"]

_MIN_HMAC_KEY_CHARS = 16


@dataclass(frozen=True)
class CacheConfig:
    """How the gateway uses Redis; inert when ``redis_url`` is None."""

    redis_url: str | None = None
    """Redis location (``REDIS_URL``); no cache, no shared counters when unset."""
    ttl_s: int = 7 * 24 * 3600
    """Sliding lifetime of an audio entry, in seconds (``GATEWAY_CACHE_TTL_S``);
    every hit pushes it out again. Audio keys always carry it, so a Redis with a
    ``volatile-*`` policy may evict them, and never the (TTL-less) counters."""
    max_entry_bytes: int = 4 * 1024 * 1024
    """Largest sentence PCM stored, in bytes (``GATEWAY_CACHE_MAX_ENTRY_BYTES``);
    longer sentences are synthesized every time (2 MiB is ~65 s at 16 kHz)."""
    op_timeout_s: float = 0.1
    """Least budget of one Redis operation on the request path, in seconds
    (``GATEWAY_CACHE_TIMEOUT_S``); past the budget the cache counts an error and
    the sentence is synthesized. The budget follows the latencies measured (see
    :mod:`gateway.cache.timeouts`), so a busy gateway does not turn hits into
    misses."""
    op_max_timeout_s: float = 1.0
    """Most that budget may grow to, in seconds (``GATEWAY_CACHE_MAX_TIMEOUT_S``):
    beyond it, synthesizing beats waiting for Redis."""
    retry_after_s: float = 1.0
    """After three Redis errors in a row, how long the request path skips Redis, in
    seconds (``GATEWAY_CACHE_RETRY_AFTER_S``), so an outage costs a few timeouts,
    not one per sentence."""
    lock_ttl_s: float = 10.0
    """Lifetime of a singleflight lock, in seconds (``GATEWAY_CACHE_LOCK_TTL_S``);
    its holder refreshes it, so this only bounds how long waiters wait for a
    replica that died."""
    poll_s: float = 0.02
    """How often a waiter on another replica's synthesis polls, in seconds
    (``GATEWAY_CACHE_POLL_S``)."""
    text_previews: bool = False
    """Keep the first characters of repeated sentences for the report
    (``GATEWAY_CACHE_TEXT_PREVIEWS``); off by default: texts may be private."""
    catalog_refresh_s: float = 30.0
    """How often the gateway re-reads the stages' model revisions, in seconds
    (``GATEWAY_CATALOG_REFRESH_S``; 0 = only at start and on ListVoices). Keys
    carry the revisions, so after a model update old entries stop hitting within
    this period (entries made after it carry the new revisions at once)."""
    price_table: str | None = None
    """Path of the YAML or JSON price table (``GATEWAY_PRICE_TABLE``); savings are
    0 without one (see ``gateway/cache/pricing_example.yaml``)."""
    price_tier: str = ""
    """Tier of the table that prices the savings (``GATEWAY_PRICE_TIER``); empty
    means the table's own ``tier``."""
    redis_password: str = field(default="", repr=False)
    """Redis AUTH password (``REDIS_PASSWORD``, or the file ``REDIS_PASSWORD_FILE``);
    one in ``REDIS_URL`` (``redis://:PASSWORD@host``) wins over it."""
    redis_tls: ClientTls = field(default_factory=ClientTls)
    """TLS to Redis: ``REDIS_TLS_CA_FILE`` (needs a ``rediss://`` URL), and for mutual
    TLS ``REDIS_TLS_CERT_FILE`` and ``REDIS_TLS_KEY_FILE``."""
    hmac_key: str = field(default="", repr=False)
    """Key of the entries' integrity tags (``GATEWAY_CACHE_HMAC_KEY``, or the file
    ``GATEWAY_CACHE_HMAC_KEY_FILE``), the same on every replica; entries whose tag
    does not verify are misses. Empty: tags catch corruption but not forgery."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variables."""
        if self.ttl_s < 1 or self.max_entry_bytes < 1:
            raise ConfigError(
                "GATEWAY_CACHE_TTL_S and GATEWAY_CACHE_MAX_ENTRY_BYTES must be >= 1"
            )
        if min(self.op_timeout_s, self.lock_ttl_s, self.poll_s) <= 0:
            raise ConfigError(
                "GATEWAY_CACHE_TIMEOUT_S, GATEWAY_CACHE_LOCK_TTL_S and "
                "GATEWAY_CACHE_POLL_S must be > 0"
            )
        if self.redis_tls.enabled and not (self.redis_url or "").startswith(
            "rediss://"
        ):
            raise ConfigError("REDIS_TLS_CA_FILE needs a rediss:// REDIS_URL")
        if self.hmac_key and len(self.hmac_key) < _MIN_HMAC_KEY_CHARS:
            raise ConfigError(
                f"GATEWAY_CACHE_HMAC_KEY must have at least {_MIN_HMAC_KEY_CHARS} "
                "characters"
            )
        if self.op_max_timeout_s < self.op_timeout_s:
            raise ConfigError(
                "GATEWAY_CACHE_MAX_TIMEOUT_S must be >= GATEWAY_CACHE_TIMEOUT_S"
            )
        if self.retry_after_s < 0 or self.catalog_refresh_s < 0:
            raise ConfigError(
                "GATEWAY_CACHE_RETRY_AFTER_S and GATEWAY_CATALOG_REFRESH_S must not "
                "be negative"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CacheConfig:
        """Read the cache variables from ``environ``.

        Raises:
            ConfigError: A value is malformed; the message names the variable.
        """
        d, p = cls(), "GATEWAY_CACHE_"
        return cls(
            redis_url=env_str(environ, "REDIS_URL", "") or None,
            op_timeout_s=env_float(environ, f"{p}TIMEOUT_S", d.op_timeout_s),
            op_max_timeout_s=env_float(
                environ, f"{p}MAX_TIMEOUT_S", d.op_max_timeout_s
            ),
            **env_fields(
                environ,
                p,
                d,
                (
                    "ttl_s",
                    "max_entry_bytes",
                    "retry_after_s",
                    "lock_ttl_s",
                    "poll_s",
                    "text_previews",
                ),
            ),
            catalog_refresh_s=env_float(
                environ, "GATEWAY_CATALOG_REFRESH_S", d.catalog_refresh_s
            ),
            price_table=env_str(environ, "GATEWAY_PRICE_TABLE", "") or None,
            price_tier=env_str(environ, "GATEWAY_PRICE_TIER", ""),
            redis_password=env_secret(environ, "REDIS_PASSWORD"),
            redis_tls=ClientTls.from_env(environ, "REDIS_"),
            hmac_key=env_secret(environ, f"{p}HMAC_KEY"),
        )
