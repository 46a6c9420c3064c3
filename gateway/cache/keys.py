"""Cache keys: everything that changes a cached result, hashed.

Key design (``SentenceKey.digest``): a SHA-256 over the schema version, the voice,
the acoustic and vocoder checkpoint revisions (content hashes, so a model update
never serves stale audio), the sentence's symbol string after the frontend (so
different spellings of the same speech share an entry), emotion, speaker, speed and
the model's sample rate. **Volume is deliberately not in the key**: the entry holds
PCM before gain, and the request's gain (plus any SSML gain) is applied at the
edge, so one entry serves every volume. Encoding and resampling also happen on the
way out. The Redis implementation lives in :mod:`gateway.cache.redis_cache`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = ["CACHE_SCHEMA_VERSION", "SentenceKey", "analysis_digest"]


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


def analysis_digest(
    text: str, ssml: bool, voice: str, emotion: str, speaker: str, revision: str
) -> str:
    """SHA-256 hex of what decides the frontend's analysis of a request: the text
    and its options, and the frontend's revision (so an update never serves a
    stale analysis)."""
    fields = {
        "schema": CACHE_SCHEMA_VERSION, "text": text, "ssml": ssml, "voice": voice,
        "emotion": emotion, "speaker": speaker, "frontend_revision": revision,
    }  # fmt: skip
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
