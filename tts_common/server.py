"""Build and run a stage's grpc.aio server: interceptors, health, reflection, TLS."""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection

from tts_common.config import ServerConfig
from tts_common.health import HEALTH_SERVICE_NAME, HealthState
from tts_common.interceptors import ServerInterceptor
from tts_common.metrics import Metrics, QueueSource, start_metrics_server
from tts_common.tls import server_credentials

__all__ = ["Register", "build_server", "metrics_host", "run", "serve"]

_LOGGER = logging.getLogger(__name__)

Register = Callable[[grpc.aio.Server], Sequence[str]]
"""Adds a stage's servicers to the server and returns their full service names."""

_UNLIMITED_MS = 2**31 - 1
"""INT_MAX: what gRPC core's millisecond channel arguments read as no limit."""
_OnClose = Callable[[], Awaitable[None] | None]
_KEEPALIVE_OPTIONS: tuple[tuple[str, Any], ...] = (
    # Clients keep long-lived channels alive with pings; without these the server
    # answers an idle client's pings with GOAWAY "too_many_pings".
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
)


def build_server(
    cfg: ServerConfig,
    register: Register,
    *,
    metrics: Metrics | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    options: Sequence[tuple[str, Any]] = (),
) -> tuple[grpc.aio.Server, int, HealthState]:
    """Create a bound, not yet started server with the house wiring.

    Call inside the event loop that will serve it.

    Args:
        cfg: Address, message-size limit and the rest; ``port=0`` binds a free port.
        register: Adds the stage's servicers; returns their full names (e.g.
            ``"tts.v1.AcousticService"``) for health and reflection.
        metrics: Receives per-RPC measurements from the interceptor.
        interceptors: Extra interceptors, run inside the house one (so their errors
            are mapped to status codes too).
        options: Extra channel arguments; they override the defaults set here.

    Returns:
        The server, the bound port, and its health state (every service NOT_SERVING).

    Raises:
        RuntimeError: The address could not be bound.
        ConfigError: A TLS file cannot be read.
    """
    limits = (
        ("grpc.max_send_message_length", cfg.max_message_bytes),
        ("grpc.max_receive_message_length", cfg.max_receive_bytes),
        # Two servers on one port by accident must fail, not split the traffic.
        ("grpc.so_reuseport", 0),
    )
    age: tuple[tuple[str, Any], ...] = ()
    if cfg.max_connection_age_s > 0:
        age = (
            ("grpc.max_connection_age_ms", int(cfg.max_connection_age_s * 1000)),
            # The GOAWAY at max age makes clients reconnect (and re-resolve); calls
            # still running on the old connection may finish however long they take:
            # a grace would cut a long stream mid-audio. INT_MAX is "unlimited" in
            # gRPC core; the SIGTERM drain has its own grace (``run``).
            ("grpc.max_connection_age_grace_ms", _UNLIMITED_MS),
        )
    merged = dict((*limits, *age, *_KEEPALIVE_OPTIONS, *options))
    server = grpc.aio.server(
        interceptors=[ServerInterceptor(metrics), *interceptors],
        options=list(merged.items()),
    )
    names = list(register(server))
    health = HealthState(names)
    health.add_to_server(server)
    if cfg.reflection:
        reflection.enable_server_reflection(
            [*names, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME], server
        )
    credentials = server_credentials(cfg)
    if credentials is None:
        port = server.add_insecure_port(cfg.address)
    else:  # TLS only: the port then refuses plaintext clients
        port = server.add_secure_port(cfg.address, credentials)
    if port == 0:
        raise RuntimeError(f"could not bind {cfg.address}")
    return server, port, health


async def run(
    server: grpc.aio.Server,
    health: HealthState,
    *,
    grace_s: float,
    drain_delay_s: float = 0.0,
    warmup: Callable[[], Awaitable[None]] | None = None,
    on_close: _OnClose | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop``), then drain and close.

    Order: start; ``warmup()``; SERVING; wait. On the signal: NOT_SERVING, wait
    ``drain_delay_s`` so probes and balancers notice, ``server.stop(grace_s)`` (new
    RPCs refused, running ones get ``grace_s`` seconds to finish, then are
    cancelled), then ``on_close()`` (e.g. the model's ``close``). Close also runs
    when start-up or warm-up fails.

    Args:
        server: From :func:`build_server`, not started.
        health: Its health state.
        grace_s: Seconds in-flight RPCs may still run after the drain begins.
        drain_delay_s: Seconds between NOT_SERVING and closing the listener.
        warmup: Awaited after start and before SERVING (a first inference).
        on_close: Called, and awaited if it returns an awaitable, after the stop.
        stop: Set it to begin the drain without a signal (tests, embedding).
    """
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = _install_signal_handlers(loop, stop)
    try:
        await server.start()
        if warmup is not None:
            await warmup()
        if not stop.is_set():
            await health.mark_serving()
            _LOGGER.info("serving")
        await stop.wait()
        _LOGGER.info("draining: grace %.1fs, delay %.1fs", grace_s, drain_delay_s)
        await health.enter_graceful_shutdown()
        if drain_delay_s > 0:
            await asyncio.sleep(drain_delay_s)
    finally:
        await health.enter_graceful_shutdown()
        await server.stop(grace_s)
        for sig in installed:
            loop.remove_signal_handler(sig)
        await _call_on_close(on_close)
        _LOGGER.info("stopped")


async def serve(
    cfg: ServerConfig,
    register: Register,
    metrics: Metrics,
    *,
    warmup: Callable[[], Awaitable[None]] | None = None,
    on_close: _OnClose | None = None,
    queue: QueueSource | None = None,
    stop: asyncio.Event | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> None:
    """Everything a stage's ``__main__`` needs: build, expose metrics, run, drain.

    Args:
        cfg: Server settings; ``metrics_port=0`` leaves the metrics endpoint off.
        register: Adds the stage's servicers (see :func:`build_server`).
        metrics: The stage's metrics, fed by the interceptor.
        warmup: Awaited before the stage reports SERVING.
        on_close: Releases the model after the drain.
        queue: The inference executor, whose depth the metrics expose.
        stop: Set it to drain without a signal (tests, embedding).
        interceptors: Extra interceptors (e.g. API keys; see :func:`build_server`).
    """
    if queue is not None:
        metrics.watch_queue(queue)
    server, port, health = build_server(
        cfg, register, metrics=metrics, interceptors=interceptors
    )
    endpoint = None
    if cfg.metrics_port:
        # Metrics listen where gRPC does: loopback under ttsctl up, not 0.0.0.0.
        endpoint = start_metrics_server(
            cfg.metrics_port, metrics, addr=metrics_host(cfg.host)
        )
    _LOGGER.info("%s listening on %s:%s", metrics.service, cfg.host, port)
    try:
        await run(
            server,
            health,
            grace_s=cfg.grace_s,
            drain_delay_s=cfg.drain_delay_s,
            warmup=warmup,
            on_close=on_close,
            stop=stop,
        )
    finally:
        if endpoint is not None:
            endpoint.close()


def metrics_host(host: str) -> str:
    """The interface for the metrics endpoint: the gRPC host without brackets; every
    IPv4 interface for a wildcard gRPC host (as before)."""
    bare = host.strip("[]")
    return "0.0.0.0" if bare in ("", "::", "0.0.0.0") else bare


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event
) -> list[signal.Signals]:
    """Make SIGTERM and SIGINT set ``stop``; returns the signals handled."""
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):

        def on_signal(sig: signal.Signals = sig) -> None:
            if stop.is_set():
                _LOGGER.warning("%s again while draining; still waiting", sig.name)
            else:
                _LOGGER.info("%s received", sig.name)
            stop.set()

        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread, or a loop without signal support: rely on ``stop``.
            continue
        installed.append(sig)
    return installed


async def _call_on_close(on_close: _OnClose | None) -> None:
    """Run the close callback; log, not raise, its failure so shutdown completes."""
    if on_close is None:
        return
    try:
        result = on_close()
        if inspect.isawaitable(result):
            await result
    except Exception:
        _LOGGER.exception("close callback failed")
