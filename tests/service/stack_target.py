"""The fuzz tests' other target: the real multi-process stack (``--fuzz-stack``),
with every process's memory watched while the examples run."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psutil

from sambert_tts_protos.v1 import gateway_service_pb2_grpc as gw_grpc
from tts_common.stack import LocalStack

GROWTH_LIMIT = 2.0
"""No process may grow past this multiple of its memory after start-up (#13)."""
_ONE_THREAD = {"ACOUSTIC_TORCH_THREADS": "1", "VOCODER_TORCH_THREADS": "1"}


@dataclass
class StackTarget:
    """What the fuzz examples call: the stack's gateway and HTTP bridge."""

    channel: grpc.aio.Channel
    stub: Any
    http_url: str


@dataclass
class MemoryWatch:
    """Samples each process's resident memory every ``every_s`` on a thread."""

    stack: LocalStack
    every_s: float = 0.5
    start_mb: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    end_mb: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _rss(self) -> dict[str, float]:
        out = {}
        for name, proc in self.stack.processes.items():
            with contextlib.suppress(psutil.Error):
                out[name] = psutil.Process(proc.popen.pid).memory_info().rss / 2**20
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            for name, mb in self._rss().items():
                self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mb)

    @contextlib.contextmanager
    def watching(self) -> Iterator[MemoryWatch]:
        self.start_mb = self._rss()
        self.peak_mb = dict(self.start_mb)
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self.end_mb = self._rss()

    def table(self) -> str:
        rows = [
            f"{'process':10s} {'start MiB':>10s} {'peak MiB':>10s} {'end MiB':>10s}"
        ]
        for name, start in self.start_mb.items():
            rows.append(
                f"{name:10s} {start:10.1f} {self.peak_mb.get(name, 0):10.1f} "
                f"{self.end_mb.get(name, 0):10.1f}"
            )
        return "\n".join(rows)

    def grown(self) -> dict[str, float]:
        """Processes whose peak passed ``GROWTH_LIMIT`` x their start: the ratio."""
        return {
            name: self.peak_mb[name] / start
            for name, start in self.start_mb.items()
            if self.peak_mb.get(name, 0.0) > GROWTH_LIMIT * start
        }


@contextlib.contextmanager
def local_stack_target(
    model_dir: str | Path, loop: asyncio.AbstractEventLoop
) -> Iterator[tuple[StackTarget, MemoryWatch]]:
    """Start the real stack (with its HTTP bridge) and watch its memory."""
    with LocalStack(model_dir, http_port=0, env=dict(_ONE_THREAD)) as stack:

        async def connect() -> StackTarget:
            channel = grpc.aio.insecure_channel(stack.gateway_address)
            return StackTarget(
                channel, gw_grpc.GatewayServiceStub(channel), stack.http_url
            )

        target = loop.run_until_complete(connect())
        watch = MemoryWatch(stack)
        try:
            with watch.watching():
                yield target, watch
        finally:
            loop.run_until_complete(target.channel.close())
