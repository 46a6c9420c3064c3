"""Cache keys: everything that changes a cached result, hashed.

Key design (``SentenceKey.digest``): a SHA-256 over the schema version, the voice,
the acoustic and vocoder checkpoint revisions (content hashes, so a model update
never serves stale audio), the sentence's symbol string after the frontend (so
different spellings of the same speech share an entry), emotion, speaker, speed and
the model's sample rate. **Volume is deliberately not in the key**: the entry holds
PCM before gain, and the request's gain (plus any SSML gain) is applied at the
edge, so one entry serves every volume. Encoding and resampling also happen on the
way out. The frontend's analysis has a key of its own (:class:`AnalysisKey`). Which
request field reaches which key is declared in :mod:`gateway.options`. The Redis
implementation lives in :mod:`gateway.cache.redis_cache`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = ["CACHE_SCHEMA_VERSION", "AnalysisKey", "SentenceKey"]


CACHE_SCHEMA_VERSION = 3
"""Bumped whenever the key fields or the stored layout change (old entries miss).
2: entries carry an HMAC-SHA256 integrity tag (:mod:`gateway.cache.integrity`)."""


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
    """Speaking-rate multiplier sent to the acoustic stage: the request's speed times
    the sentence's SSML rate (:func:`tts_common.speed.combined_speed`)."""
    sample_rate_hz: int
    """The model's native rate, in Hz."""
    pitch_semitones: float = 0.0
    """Pitch shift sent to the acoustic stage: the request's plus the sentence's
    SSML pitch."""
    energy_shift: float = 0.0
    """Energy shift sent to the acoustic stage (SSML ``<emphasis>``)."""

    def digest(self) -> str:
        """SHA-256 hex over the schema version and every field (stable JSON)."""
        fields = {"schema": CACHE_SCHEMA_VERSION, **asdict(self)}
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnalysisKey:
    """Everything that decides the frontend's analysis of a request: the text and its
    options, and the frontend's revision (so an update never serves a stale
    analysis). Speed, volume and output format are applied after the analysis."""

    text: str
    """The request text, plain or SSML."""
    ssml: bool
    """Whether ``text`` is an SSML document."""
    voice: str
    """Voice name (the default resolved)."""
    emotion: str
    """Requested emotion id; empty = neutral."""
    speaker: str
    """Requested speaker id; empty = the voice's default."""
    frontend_revision: str
    """The frontend's revision as the voice catalog last read it."""
    lexicon: tuple[tuple[str, str], ...] = ()
    """The request's own pronunciations, (word, reading) in request order."""

    def digest(self) -> str:
        """SHA-256 hex over the schema version and every field (stable JSON).

        The field names are the JSON keys, so this is the digest analyses have
        always been stored under: renaming a field invalidates every stored one.
        """
        fields = {"schema": CACHE_SCHEMA_VERSION, **asdict(self)}
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()
