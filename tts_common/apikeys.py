"""API keys: named keys from a file or the environment, and per-key rate limits.

A key is presented as ``authorization: Bearer <key>`` or ``x-api-key: <key>``
(gRPC metadata or HTTP headers alike). The presented key is hashed once and compared
with every configured key's hash by :func:`hmac.compare_digest`, without stopping at
the first match, so the time taken says nothing about which key, if any, matched.
Only a key's *name* is ever logged or used as a metric label. The gRPC check is
:class:`tts_common.auth.AuthInterceptor`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_common.config import ConfigError, yaml_section

__all__ = ["ApiKey", "ApiKeys", "RateLimiter", "presented_key"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEY = re.compile(r"[\x21-\x7e]{16,256}")


@dataclass(frozen=True)
class ApiKey:
    """One configured key: its name, its hash, its optional rate limit."""

    name: str
    """Shown in logs and metrics; letters, digits, ``_``, ``.`` and ``-``."""
    digest: bytes = field(repr=False)
    """SHA-256 of the key (the key itself is not kept)."""
    rate_per_s: float = 0.0
    """Requests per second this key may make on average; 0 = no limit."""
    burst: int = 0
    """Requests it may make at once after a quiet spell (the bucket's size)."""


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a caller sent: ``Bearer <key>`` in ``authorization``, else ``x-api-key``."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None


@dataclass(frozen=True)
class ApiKeys:
    """The keys a service accepts; none = authentication off."""

    keys: tuple[ApiKey, ...] = ()

    @property
    def enabled(self) -> bool:
        """Whether callers must present a key."""
        return bool(self.keys)

    def match(self, presented: str | None) -> ApiKey | None:
        """The key ``presented`` is, or None; constant time over all keys."""
        if presented is None or not self.keys:
            return None
        digest, found = _hash(presented), None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest) and found is None:
                found = key
        return found

    @classmethod
    def parse(cls, text: str, source: str, yaml_format: bool = False) -> ApiKeys:
        """Keys from ``name:key[:rate_per_s[:burst]]`` lines (``#`` comments), or from
        YAML ``keys: [{name, key, rate_per_s, burst}]``.

        Raises:
            ConfigError: A malformed entry or a repeated name or key; the message names
                ``source`` and the entry's name, never a key.
        """
        if yaml_format:
            entries = _yaml_entries(text, source)
        else:
            entries = []
            for raw in text.splitlines():
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split(":")
                if len(parts) not in (2, 3, 4):
                    raise ConfigError(
                        f"{source}: entries are name:key[:rate_per_s[:burst]]"
                    )
                entries.append(dict(zip(("name", "key", "rate_per_s", "burst"),
                                        parts, strict=False)))  # fmt: skip
        return cls(_checked(entries, source))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str) -> ApiKeys:
        """Keys from the file ``<prefix>API_KEYS_FILE`` (YAML when it ends in ``.yaml``
        or ``.yml``) plus the comma-separated ``<prefix>API_KEYS``.

        Raises:
            ConfigError: The file cannot be read or an entry is malformed.
        """
        keys: list[ApiKey] = []
        path = environ.get(f"{prefix}API_KEYS_FILE", "").strip()
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeError) as exc:
                raise ConfigError(
                    f"{prefix}API_KEYS_FILE: cannot read {path!r} ({exc})"
                ) from None
            is_yaml = path.endswith((".yaml", ".yml"))
            keys.extend(cls.parse(text, f"{prefix}API_KEYS_FILE", is_yaml).keys)
        inline = environ.get(f"{prefix}API_KEYS", "").strip()
        if inline:
            lines = inline.replace(",", "\n")
            keys.extend(cls.parse(lines, f"{prefix}API_KEYS").keys)
        return cls(_checked_unique(keys, f"{prefix}API_KEYS(_FILE)"))


def _yaml_entries(text: str, source: str) -> list[dict[str, Any]]:
    entries = yaml_section(text, source, "keys")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{source}: expected 'keys:' with a list of {{name, key}}")
    return entries


def _checked(entries: Iterable[Mapping[str, Any]], source: str) -> tuple[ApiKey, ...]:
    keys = []
    for entry in entries:
        name, key = (
            str(entry.get("name", "")).strip(),
            str(entry.get("key", "")).strip(),
        )
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{source}: key name {name!r} must match {_NAME.pattern}")
        if not _KEY.fullmatch(key):
            raise ConfigError(
                f"{source}: key {name!r} must be 16 to 256 printable ASCII characters"
                " without spaces"
            )
        try:
            rate = float(entry.get("rate_per_s") or 0)
            burst = int(entry.get("burst") or max(1, math.ceil(rate)))
        except (TypeError, ValueError):
            raise ConfigError(
                f"{source}: key {name!r}: bad rate_per_s or burst"
            ) from None
        if not math.isfinite(rate) or rate < 0 or burst < 1:
            raise ConfigError(f"{source}: key {name!r}: rate_per_s >= 0, burst >= 1")
        keys.append(ApiKey(name, _hash(key), rate, burst))
    return _checked_unique(keys, source)


def _checked_unique(keys: list[ApiKey], source: str) -> tuple[ApiKey, ...]:
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: key names must be unique")
    if len({k.digest for k in keys}) != len(keys):
        raise ConfigError(f"{source}: the same key is listed twice")
    return tuple(keys)


class RateLimiter:
    """A token bucket per key name (one event loop; not thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: ApiKey) -> float:
        """Spend one request of ``key``'s budget: 0 when allowed, else the seconds
        until one would be."""
        if key.rate_per_s <= 0:
            return 0.0
        now = self._clock()
        tokens, then = self._buckets.get(key.name, (float(key.burst), now))
        tokens = min(float(key.burst), tokens + (now - then) * key.rate_per_s)
        if tokens >= 1.0:
            self._buckets[key.name] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key.name] = (tokens, now)
        return (1.0 - tokens) / key.rate_per_s
