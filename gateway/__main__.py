"""``python -m gateway``: serve the public TTS API in front of the three stages."""

from __future__ import annotations

import asyncio
import os

from gateway.app import Gateway
from gateway.config import GatewayConfig
from tts_common.config import ConfigError
from tts_common.logging import configure_logging
from tts_common.metrics import Metrics
from tts_common.server import serve


async def _main() -> None:
    try:
        cfg = GatewayConfig.from_env(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    configure_logging("gateway", cfg.server.log_level, cfg.server.log_format)
    metrics = Metrics("gateway")
    try:
        # Channels and the Redis pool must be made inside the serving loop.
        gateway = Gateway(cfg, metrics=metrics)
    except ConfigError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    await serve(
        cfg.server,
        gateway.register,
        metrics,
        # SERVING only once every stage answers its health check (see warmup).
        warmup=gateway.warmup,
        on_close=gateway.close,
        interceptors=gateway.interceptors,
    )


if __name__ == "__main__":
    asyncio.run(_main())
