"""Run the bridge until SIGTERM, then drain: not ready, wait, finish running work."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from gateway.http.app import HANDLERS, build_app
from gateway.http.config import HttpConfig
from tts_common.tls import server_ssl_context

__all__ = ["serve"]

_LOGGER = logging.getLogger(__name__)


async def serve(cfg: HttpConfig) -> None:
    """Serve ``cfg`` until SIGTERM or SIGINT.

    On the signal ``/readyz`` turns 503 at once; the listener stays open for
    ``drain_delay_s`` (probes and endpoints notice), then closes, and responses
    still streaming get ``grace_s`` to finish.
    """
    app = build_app(cfg)
    # handler_cancellation: a client that hangs up cancels its handler, which
    # cancels the gateway stream, so no stage keeps working for nobody.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=cfg.grace_s)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        ssl_context = server_ssl_context(cfg)  # None: plain HTTP
        await web.TCPSite(
            runner, cfg.bind_host, cfg.port, ssl_context=ssl_context
        ).start()
        _LOGGER.info(
            "HTTP bridge on %s, gateway %s", runner.addresses, cfg.gateway_addr
        )
        await stop.wait()
        _LOGGER.info("draining for %.1f s", cfg.drain_delay_s)
        app[HANDLERS].draining = True
        await asyncio.sleep(cfg.drain_delay_s)
    finally:
        await runner.cleanup()
