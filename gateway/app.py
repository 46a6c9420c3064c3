"""Wiring of one gateway: stage channels, pipeline, servicer, warm-up and close."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc

from gateway.cache import NoopPhraseCache, PhraseCache
from gateway.clients import AcousticClient, FrontendClient, VocoderClient
from gateway.config import GatewayConfig
from gateway.pipeline import Pipeline
from gateway.retry import Deadline, ReplicaSet, RetryPolicy, wait_until_serving
from gateway.servicer import GatewayServicer
from gateway.stats import CacheCounters

__all__ = ["Gateway"]

_LOGGER = logging.getLogger(__name__)


class Gateway:
    """Everything one gateway process holds, built from its config."""

    def __init__(self, cfg: GatewayConfig, cache: PhraseCache | None = None) -> None:
        """Create lazy channels to every replica (call inside the serving loop).

        Args:
            cfg: The gateway's settings.
            cache: The phrase cache; the no-op one when None.
        """
        self.cfg = cfg
        limit = cfg.server.max_message_bytes
        self.replicas = (
            ReplicaSet("frontend", cfg.frontend_addrs, limit),
            ReplicaSet("acoustic", cfg.acoustic_addrs, limit),
            ReplicaSet("vocoder", cfg.vocoder_addrs, limit),
        )
        policy = RetryPolicy(cfg.retries, cfg.retry_backoff_s, cfg.retry_max_backoff_s)
        frontend = FrontendClient(self.replicas[0], policy)
        acoustic = AcousticClient(self.replicas[1], policy)
        vocoder = VocoderClient(self.replicas[2], policy)
        self.counters = CacheCounters()
        pipeline = Pipeline(
            frontend,
            acoustic,
            vocoder,
            cache if cache is not None else NoopPhraseCache(),
            self.counters,
            cfg.sentences_in_flight,
        )
        self.servicer = GatewayServicer(cfg, pipeline, self.counters)

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

    async def close(self) -> None:
        """Close every stage channel."""
        for replicas in self.replicas:
            await replicas.close()
