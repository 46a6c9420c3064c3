"""The bridge's side of the gateway: one grpc.aio channel (TLS when configured),
typed calls that carry the caller's API key, a voice list."""

from __future__ import annotations

import time
from typing import Any, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.http.config import HttpConfig
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from sambert_tts_protos.v1 import gateway_service_pb2_grpc as gw_grpc
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.tls import aio_channel, channel_credentials

__all__ = ["GatewayClient"]

_VOICES_TTL_S = 30.0
_SHORT_TIMEOUT_S = 10.0


class GatewayClient:
    """Calls the gateway's public API; make it inside the serving event loop."""

    def __init__(self, cfg: HttpConfig) -> None:
        limit = cfg.max_message_bytes
        credentials = channel_credentials(cfg.gateway_tls)
        self._channel = aio_channel(cfg.gateway_addr, credentials, [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.keepalive_time_ms", 30_000),
        ])  # fmt: skip
        # _pb2_grpc is untyped; the methods below are the typed face of this stub.
        stub_class: Any = gw_grpc.GatewayServiceStub
        self._stub = stub_class(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._timeout_s = cfg.request_timeout_s
        self._voices: gw.ListVoicesResponse | None = None
        self._voices_at = 0.0

    async def close(self) -> None:
        await self._channel.close()

    def stream(
        self,
        request: gw.StreamSynthesizeRequest,
        request_id: str,
        api_key: str | None = None,
    ) -> Any:
        """Start StreamSynthesize; the call is async-iterable and ``cancel()``-able."""
        return self._stub.StreamSynthesize(
            request, timeout=self._timeout_s, metadata=_metadata(api_key, request_id)
        )

    def streaming(self, request_id: str, api_key: str | None = None) -> Any:
        """Start StreamingSynthesize (text in, audio out): ``write()`` the config
        and the text, ``done_writing()``, ``read()`` the replies; ``cancel()``."""
        return self._stub.StreamingSynthesize(
            timeout=self._timeout_s, metadata=_metadata(api_key, request_id)
        )

    async def voices(
        self, fresh: bool = False, api_key: str | None = None
    ) -> gw.ListVoicesResponse:
        """ListVoices, remembered for a while (the voice set changes with deploys)."""
        voices = self._voices
        if (
            fresh
            or voices is None
            or time.monotonic() - self._voices_at > _VOICES_TTL_S
        ):
            voices = await self._stub.ListVoices(
                gw.ListVoicesRequest(),
                timeout=_SHORT_TIMEOUT_S,
                metadata=_metadata(api_key),
            )
            self._voices, self._voices_at = voices, time.monotonic()
        return cast(gw.ListVoicesResponse, voices)

    async def voice_rate(self, name: str, api_key: str | None = None) -> int:
        """The native rate of voice ``name`` (empty = default); 0 if unknown."""
        for fresh in (False, True):
            reply = await self.voices(fresh, api_key)
            wanted = name or reply.default_voice
            for voice in reply.voices:
                if voice.name == wanted:
                    return int(voice.sample_rate_hz)
        return 0

    async def cache_report(
        self, window_s: int, voice: str, top: int, api_key: str | None = None
    ) -> gw.GetCacheReportResponse:
        """GetCacheReport (see the proto for the fields)."""
        reply = await self._stub.GetCacheReport(
            gw.GetCacheReportRequest(
                window_s=window_s, voice=voice, max_top_sentences=top
            ),
            timeout=_SHORT_TIMEOUT_S,
            metadata=_metadata(api_key),
        )
        return cast(gw.GetCacheReportResponse, reply)

    async def health(self, timeout_s: float = 2.0) -> str:
        """The gateway's health status name, ``UNREACHABLE`` when it does not answer."""
        try:
            reply = await self._health.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.RpcError:
            return "UNREACHABLE"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _metadata(
    api_key: str | None, request_id: str = ""
) -> tuple[tuple[str, str], ...] | None:
    """Call metadata: the caller's own API key (the gateway checks it) and the id."""
    items = []
    if api_key:
        items.append(("authorization", f"Bearer {api_key}"))
    if request_id:
        items.append((REQUEST_ID_HEADER, request_id))
    return tuple(items) or None
