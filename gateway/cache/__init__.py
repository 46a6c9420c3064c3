"""The phrase cache: per-sentence audio and analyses in Redis, and the cache report.

The pipeline sees :class:`PhraseCache` (Redis or no-op), :class:`AnalysisCache` and
:func:`resolve`; the servicer and the HTTP bridge see the report counters.
"""

from gateway.cache.analysis import AnalysisCache
from gateway.cache.config import CacheConfig
from gateway.cache.keys import CACHE_SCHEMA_VERSION, AnalysisKey, SentenceKey
from gateway.cache.lookup import resolve
from gateway.cache.phrase_cache import (
    CachedSentence,
    CacheUnavailable,
    Flight,
    NoopPhraseCache,
    PhraseCache,
)
from gateway.cache.pricing import Price, load_price
from gateway.cache.redis_cache import RedisPhraseCache
from gateway.cache.report import RedisCacheCounters, report_to_dict
from gateway.cache.stats import (
    MAX_TOP,
    MAX_WINDOW_S,
    CacheCounters,
    ReportCounters,
    check_report_args,
)

__all__ = [
    "CACHE_SCHEMA_VERSION",
    "MAX_TOP",
    "MAX_WINDOW_S",
    "AnalysisCache",
    "AnalysisKey",
    "CacheConfig",
    "CacheCounters",
    "CacheUnavailable",
    "CachedSentence",
    "Flight",
    "NoopPhraseCache",
    "PhraseCache",
    "Price",
    "RedisCacheCounters",
    "RedisPhraseCache",
    "ReportCounters",
    "SentenceKey",
    "check_report_args",
    "load_price",
    "report_to_dict",
    "resolve",
]
