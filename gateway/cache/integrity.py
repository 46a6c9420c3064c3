"""Integrity tags of cache entries: HMAC-SHA256 over the entry and its key digest.

Anyone who can write to Redis could otherwise plant audio that every caller of that
sentence is then served. Each stored value is ``magic + tag + body`` with
``tag = HMAC-SHA256(key, kind + digest + body)``: the digest binds the entry to its
cache key (an entry copied under another key fails), the kind keeps audio and
analyses apart. A value whose tag does not verify is a miss.

The key is ``GATEWAY_CACHE_HMAC_KEY`` (or ``..._FILE``), shared by every gateway
replica. Without one the tag is keyed with nothing: it still catches corruption and
entries written by other code, but not a forger who knows this scheme.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["TAG_BYTES", "EntrySeal"]

TAG_BYTES = 32
"""Length of an HMAC-SHA256 tag."""


class EntrySeal:
    """Tags values before they are stored and checks them when read."""

    def __init__(self, key: bytes) -> None:
        """Tag with ``key`` (empty: integrity against corruption only)."""
        self._key = key

    def _tag(self, magic: bytes, digest: str, body: bytes) -> bytes:
        message = magic + b"\0" + digest.encode("ascii") + b"\0" + body
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def seal(self, magic: bytes, digest: str, body: bytes) -> bytes:
        """The value to store for ``body`` under the key ``digest``."""
        return magic + self._tag(magic, digest, body) + body

    def open(self, magic: bytes, digest: str, value: bytes) -> bytes | None:
        """The body of a stored ``value``, or None when it is not a value sealed
        under ``digest`` with this key (tampered, foreign or truncated)."""
        head = len(magic) + TAG_BYTES
        if len(value) < head or not value.startswith(magic):
            return None
        tag, body = value[len(magic) : head], value[head:]
        if not hmac.compare_digest(tag, self._tag(magic, digest, body)):
            return None
        return body
