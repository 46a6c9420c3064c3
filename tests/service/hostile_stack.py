"""A whole stack in process for hostile-input tests: the real frontend (SSML, the
normalizer and their limits really run), fake acoustic and vocoder stages, an
optional Redis, the gateway, and the HTTP bridge on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web

from frontend_svc.servicer import FrontendServicer
from gateway.app import Gateway
from gateway.cache import CacheConfig
from gateway.config import GatewayConfig
from gateway.http.app import build_app
from gateway.http.config import HttpConfig
from sambert_tts_protos.v1 import acoustic_service_pb2 as am_pb2
from sambert_tts_protos.v1 import acoustic_service_pb2_grpc as am_grpc
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as fe_grpc
from sambert_tts_protos.v1 import gateway_service_pb2_grpc as gw_grpc
from sambert_tts_protos.v1 import vocoder_service_pb2_grpc as voc_grpc
from tests.service.fake_stages import (
    FakeAcoustic,
    FakeVocoder,
    StageServer,
    start_stage,
)
from tts_common.config import ServerConfig, text_request_bytes
from tts_common.executor import BoundedExecutor
from tts_common.server import build_server

MAX_TEXT_CHARS = 2000
"""The gateway's text limit here (below its default, so that texts at the limit
stay quick to analyse)."""


class ShortAcoustic(FakeAcoustic):
    """The fake acoustic stage on at most 8 characters of each sentence's symbols:
    real KAN-TTS symbols are long strings, and the fake makes frames per character,
    so a long text would otherwise make minutes of fake audio."""

    async def StreamMel(self, request, context) -> AsyncIterator[Any]:
        short = am_pb2.StreamMelRequest()
        short.CopyFrom(request)
        short.symbols = request.symbols[:8]
        async for message in super().StreamMel(short, context):
            yield message


@dataclass
class HostileStack:
    """The started pieces; :meth:`close` stops them all."""

    app: Gateway
    server: grpc.aio.Server
    channel: grpc.aio.Channel
    stub: gw_grpc.GatewayServiceStub
    http_url: str
    acoustic: ShortAcoustic
    stages: list[StageServer] = field(default_factory=list)
    runner: web.AppRunner | None = None
    executor: BoundedExecutor | None = None

    async def close(self) -> None:
        """Stop the bridge, the gateway and the stages."""
        if self.runner is not None:
            await self.runner.cleanup()
        await self.channel.close()
        await self.server.stop(None)
        await self.app.close()
        for stage in self.stages:
            await stage.server.stop(None)
        if self.executor is not None:
            self.executor.close(wait=False)


async def start_hostile_stack(
    frontend: Any, redis_url: str | None = None, **overrides: Any
) -> HostileStack:
    """Start everything on free loopback ports; ``overrides`` go to GatewayConfig."""
    executor = BoundedExecutor(1, 16)
    servicer = FrontendServicer(
        [frontend], executor, revision="fe-real", max_text_chars=5000
    )
    acoustic = ShortAcoustic()
    stages = [
        await start_stage(servicer, fe_grpc.add_FrontendServiceServicer_to_server,
                          "tts.v1.FrontendService"),
        await start_stage(acoustic, am_grpc.add_AcousticServiceServicer_to_server,
                          "tts.v1.AcousticService"),
        await start_stage(FakeVocoder(), voc_grpc.add_VocoderServiceServicer_to_server,
                          "tts.v1.VocoderService"),
    ]  # fmt: skip
    fields: dict[str, Any] = {
        "frontend_addrs": (stages[0].addr,), "acoustic_addrs": (stages[1].addr,),
        "vocoder_addrs": (stages[2].addr,), "startup_timeout_s": 10.0,
        "max_text_chars": MAX_TEXT_CHARS,
        "server": ServerConfig(
            host="127.0.0.1", port=0, grace_s=0.5,
            max_receive_bytes=text_request_bytes(MAX_TEXT_CHARS),
        ),
        "cache": CacheConfig(redis_url=redis_url),
    }  # fmt: skip
    fields.update(overrides)
    app = Gateway(GatewayConfig(**fields))
    server, port, health = build_server(app.cfg.server, app.register)
    await server.start()
    await app.warmup()
    await health.mark_serving()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    runner = web.AppRunner(build_app(HttpConfig(gateway_addr=f"127.0.0.1:{port}")))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, http_port = runner.addresses[0][:2]
    return HostileStack(
        app, server, channel, gw_grpc.GatewayServiceStub(channel),
        f"http://{host}:{http_port}", acoustic, stages, runner, executor,
    )  # fmt: skip


def raw_method(channel: grpc.aio.Channel, name: str, stream: bool = False) -> Any:
    """A gateway method taking and returning raw bytes (no proto parsing here)."""
    path = f"/tts.v1.GatewayService/{name}"
    return (channel.unary_stream if stream else channel.unary_unary)(path)


def proto_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field: lets a test put bytes that are not
    UTF-8 into a string field, which the client library would refuse to encode."""
    key, length = _varint(number << 3 | 2), _varint(len(payload))
    return key + length + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
