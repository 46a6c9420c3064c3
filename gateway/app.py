"""Wiring of one gateway: stage channels, pipeline, servicer, warm-up and close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc

from gateway.admission import Admission
from gateway.cache import (
    CacheCounters,
    NoopPhraseCache,
    PhraseCache,
    RedisCacheCounters,
    RedisPhraseCache,
    ReportCounters,
    load_price,
)
from gateway.config import GatewayConfig
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline
from gateway.servicer import GatewayServicer
from gateway.stages import (
    AcousticClient,
    Deadline,
    FailoverPolicy,
    FrontendClient,
    Keepalive,
    ReplicaSet,
    RetryPolicy,
    VocoderClient,
    wait_until_serving,
)
from tts_common.auth import AuthInterceptor
from tts_common.metrics import Metrics
from tts_common.tls import channel_credentials

__all__ = ["Gateway"]

_LOGGER = logging.getLogger(__name__)


class Gateway:
    """Everything one gateway process holds, built from its config."""

    def __init__(
        self,
        cfg: GatewayConfig,
        cache: PhraseCache | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """Create lazy channels to every replica (call inside the serving loop).

        Args:
            cfg: The gateway's settings.
            cache: The phrase cache; when None, the Redis one if ``REDIS_URL`` is
                set, else the no-op one.
            metrics: The service's metrics; the gateway adds its series to its
                registry (a private registry when None).

        Raises:
            ConfigError: The price table or a TLS file is unreadable.
        """
        self.cfg = cfg
        limit = cfg.server.max_message_bytes
        keepalive = Keepalive(cfg.keepalive_time_s, cfg.keepalive_timeout_s)
        credentials = channel_credentials(cfg.stage_tls)
        self.replicas = tuple(
            ReplicaSet(
                stage,
                addrs,
                limit,
                keepalive,
                cfg.replica_probe_s,
                cfg.reconnect_max_backoff_s,
                credentials=credentials,
            )
            for stage, addrs in (
                ("frontend", cfg.frontend_addrs),
                ("acoustic", cfg.acoustic_addrs),
                ("vocoder", cfg.vocoder_addrs),
            )
        )
        policy = RetryPolicy(cfg.retries, cfg.retry_backoff_s, cfg.retry_max_backoff_s)
        frontend = FrontendClient(self.replicas[0], policy)
        acoustic = AcousticClient(self.replicas[1], policy)
        vocoder = VocoderClient(self.replicas[2], policy)
        self.metrics = GatewayMetrics(metrics.registry if metrics else None)
        self.interceptors: list[grpc.aio.ServerInterceptor] = []
        """Server interceptors the gateway needs (the API-key check when keys are
        configured); pass them to ``serve`` or ``build_server``."""
        if cfg.api_keys.enabled:
            auth = AuthInterceptor(cfg.api_keys, self.metrics.registry)
            self.interceptors.append(auth)
        else:
            _LOGGER.warning("no API keys configured: the gateway API is open")
        price = load_price(cfg.cache.price_table, cfg.cache.price_tier)
        self.counters: ReportCounters
        self.redis_cache: RedisPhraseCache | None = None
        if cache is None and cfg.cache.redis_url:
            self.redis_cache = RedisPhraseCache(
                cfg.cache, on_integrity_failure=self.metrics.integrity_failure
            )
            cache = self.redis_cache
            if not cfg.cache.hmac_key:
                _LOGGER.warning(
                    "GATEWAY_CACHE_HMAC_KEY not set: cache entries are checked for "
                    "corruption only, not against forgery by whoever can write Redis"
                )
            self.counters = RedisCacheCounters(
                self.redis_cache.client, self.metrics, price, cfg.cache.text_previews
            )
        else:
            self.counters = CacheCounters(self.metrics, price)
        self.cache: PhraseCache = cache if cache is not None else NoopPhraseCache()
        failover = FailoverPolicy(cfg.failover_retries, self.metrics.failover)
        self.admission = admission = Admission(cfg.max_syntheses, cfg.max_waiting)
        """Whole-request admission (slots for synthesis)."""
        self.metrics.watch_admission(admission)
        pipeline = Pipeline(frontend, acoustic, vocoder, self.cache, self.counters,
                            cfg.sentences_in_flight, failover=failover,
                            admission=admission)  # fmt: skip
        self._refresher: asyncio.Task[None] | None = None
        self.servicer = GatewayServicer(cfg, pipeline, self.counters, self.metrics)

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add the gateway service to ``server``; returns its full name."""
        return self.servicer.register(server)

    async def warmup(self) -> None:
        """Wait until every stage has a SERVING replica, then read their voices.

        The gateway reports SERVING only after this, so probes never route callers
        to a gateway that cannot reach its stages.

        Raises:
            TimeoutError: A stage stayed unreachable for ``startup_timeout_s``.
        """
        await wait_until_serving(self.replicas, self.cfg.startup_timeout_s)
        await self.servicer.refresh_catalog(Deadline(self.cfg.startup_timeout_s))
        _LOGGER.info("voices: %s", ", ".join(sorted(self.servicer.catalog_names())))
        if self.cache.enabled and self.cfg.cache.catalog_refresh_s > 0:
            self._refresher = asyncio.create_task(self._refresh_catalog())

    async def _refresh_catalog(self) -> None:
        """Re-read the stages' revisions now and then: cache keys carry them, so a
        redeployed model stops hitting entries of the old one within a period."""
        period = self.cfg.cache.catalog_refresh_s
        while True:
            await asyncio.sleep(period)
            try:
                await self.servicer.refresh_catalog(Deadline(max(period, 5.0)))
            except Exception as exc:  # a stage briefly away: keep the last catalog
                _LOGGER.warning("voice catalog not refreshed (%s)", type(exc).__name__)

    async def close(self) -> None:
        """Flush the counters, close Redis and every stage channel."""
        if self._refresher is not None:
            self._refresher.cancel()
        await self.counters.close()
        if self.redis_cache is not None:
            await self.redis_cache.close()
        for replicas in self.replicas:
            await replicas.close()
