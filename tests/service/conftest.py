"""Fixtures for in-process server tests: a started dummy stack, captured JSON logs."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.golden import FIXTURES, golden_path
from tests.service.runtime_helpers import SERVING, Dummy, Stack, check_health
from tts_common.config import ServerConfig
from tts_common.executor import BoundedExecutor
from tts_common.logging import configure_logging
from tts_common.metrics import Metrics
from tts_common.server import Register, build_server

StartServer = Callable[..., Awaitable[grpc.aio.Channel]]
"""``await start_server(register, metrics=None)``: a channel to a new SERVING server."""


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


# --- Stage servers (acoustic, vocoder, frontend) on the golden voices --------------


@pytest.fixture(scope="session")
def acoustic_models() -> dict[str, Any]:
    """The acoustic model of each golden fixture, loaded once, by fixture name."""
    from acoustic_svc import load_acoustic_model

    return {f: load_acoustic_model(golden_path(f)) for f in FIXTURES}


@pytest.fixture(scope="session")
def vocoders() -> dict[str, Any]:
    """The vocoder of each golden fixture, loaded once, by fixture name."""
    from vocoder_svc.loading import load_vocoder

    return {f: load_vocoder(golden_path(f)) for f in FIXTURES}


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start in-process servers (port 0, SERVING) for a test; returns their channels."""
    started: list[tuple[grpc.aio.Server, grpc.aio.Channel]] = []

    async def start(
        register: Register, metrics: Metrics | None = None
    ) -> grpc.aio.Channel:
        cfg = ServerConfig(host="127.0.0.1", port=0, grace_s=1.0)
        server, port, health = build_server(cfg, register, metrics=metrics)
        await server.start()
        await health.mark_serving()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        started.append((server, channel))
        return channel

    yield start
    for server, channel in started:
        await channel.close()
        await server.stop(None)


_REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def launch() -> Iterator[Callable[[str, dict[str, str]], subprocess.Popen[str]]]:
    """Start ``python -m <module>`` with extra env; every child is stopped at teardown.

    The child gets ``PYTHONPATH`` with the repo root and ``protos/gen`` (as the
    Dockerfiles set it) plus the caller's variables; its stdout and stderr are
    merged into ``stdout`` (read them with ``communicate()``).
    """
    children: list[subprocess.Popen[str]] = []

    def start(module: str, env: dict[str, str]) -> subprocess.Popen[str]:
        path = os.pathsep.join([str(_REPO), str(_REPO / "protos" / "gen")])
        full = {**os.environ, "PYTHONPATH": path, **env}
        child = subprocess.Popen(
            [sys.executable, "-m", module], cwd=_REPO, env=full, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread for the test, then restore the count.

    On two cores shared by the event loop, gRPC's threads and other processes, a
    two-thread OpenMP team spins at its barriers: a 40-frame vocoder window took
    up to a second instead of ~10 ms, making streaming tests slow and erratic.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


async def wait_serving(channel: grpc.aio.Channel, timeout_s: float = 60.0) -> None:
    """Poll Health/Check until SERVING; a child process loads models first (slow)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if await check_health(channel) == SERVING:
                return
        except grpc.aio.AioRpcError:
            pass  # not listening yet
        assert time.monotonic() < deadline, "service never reported SERVING"
        await asyncio.sleep(0.1)


# --- gateway fixtures: fake stages and a gateway in front of them -----------------

# Imported here, not at the top, so this section stays self-contained.
from dataclasses import dataclass  # noqa: E402

from gateway.app import Gateway  # noqa: E402
from gateway.config import GatewayConfig  # noqa: E402
from sambert_tts_protos.v1 import gateway_service_pb2_grpc  # noqa: E402
from tests.service.fake_stages import FakeStages, start_fake_stages  # noqa: E402


@pytest.fixture
async def fake_stages() -> AsyncIterator[FakeStages]:
    """Fake frontend, acoustic and vocoder servers on free ports, SERVING."""
    stages = await start_fake_stages()
    yield stages
    await stages.stop()


@dataclass
class GatewayHarness:
    """A started gateway server and a stub connected to it."""

    server: grpc.aio.Server
    app: Gateway
    channel: grpc.aio.Channel
    stub: gateway_service_pb2_grpc.GatewayServiceStub
    address: str = ""


@pytest.fixture
async def start_gateway(
    fake_stages: FakeStages,
) -> AsyncIterator[Callable[..., Awaitable[GatewayHarness]]]:
    """Factory: a gateway in front of ``fake_stages`` (addresses and settings may be
    overridden), warmed up (voices read) and serving on a free port."""
    started: list[GatewayHarness] = []

    async def start(**overrides: Any) -> GatewayHarness:
        fe, am, voc = fake_stages.addrs
        fields: dict[str, Any] = {
            "frontend_addrs": (fe,), "acoustic_addrs": (am,), "vocoder_addrs": (voc,),
            "server": ServerConfig(host="127.0.0.1", port=0, grace_s=0.5),
            "retry_backoff_s": 0.01, "retry_max_backoff_s": 0.05,
            "startup_timeout_s": 5.0,
        }  # fmt: skip
        fields.update(overrides)
        app = Gateway(GatewayConfig(**fields))
        server, port, health = build_server(app.cfg.server, app.register)
        await server.start()
        await app.warmup()
        await health.mark_serving()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        harness = GatewayHarness(
            server, app, channel, gateway_service_pb2_grpc.GatewayServiceStub(channel),
            f"127.0.0.1:{port}",
        )  # fmt: skip
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.channel.close()
        await harness.server.stop(None)
        await harness.app.close()


# --- the hostile stack: the real frontend, fake stages, gateway and HTTP bridge ----

from tests.service.hostile_stack import HostileStack, start_hostile_stack  # noqa: E402


@pytest.fixture(scope="module")
def hostile_stack_frontend() -> Any:
    """One real frontend per test module (building it loads dictionaries: about a
    second), shared by the module's hostile stacks."""
    from frontend_svc import Frontend

    return Frontend()


@pytest.fixture
async def hostile_stack(hostile_stack_frontend: Any) -> AsyncIterator[HostileStack]:
    """The whole stack in process (:mod:`tests.service.hostile_stack`), the HTTP
    bridge on a free port."""
    stack = await start_hostile_stack(hostile_stack_frontend)
    yield stack
    await stack.close()
