"""Fixtures for in-process server tests: a started dummy stack, captured JSON logs."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from tests.service.runtime_helpers import Dummy, Stack
from tts_common.config import ServerConfig
from tts_common.executor import BoundedExecutor
from tts_common.logging import configure_logging
from tts_common.metrics import Metrics
from tts_common.server import build_server


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON logs of the process, captured for the duration of the test."""
    stream = io.StringIO()
    handler = configure_logging("runtime-test", "INFO", "json", stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """A server on a free port with the dummy servicer, not yet marked SERVING."""
    executor = BoundedExecutor(max_workers=1, max_queue=0)
    dummy = Dummy(executor)
    metrics = Metrics("runtime-test")
    metrics.watch_queue(executor)
    cfg = ServerConfig(host="127.0.0.1", port=0, grace_s=5.0)
    server, port, health = build_server(cfg, dummy.register, metrics=metrics)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield Stack(server, health, metrics, dummy, channel)
    dummy.job_gate.set()
    await channel.close()
    await server.stop(None)
    executor.close()
