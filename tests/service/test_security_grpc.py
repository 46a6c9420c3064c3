"""API keys and TLS on the gRPC hops, in process: the gateway in front of fake stages,
and the shared server (every stage's) on certificates made for the test."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import generate_latest

from gateway.app import Gateway
from gateway.config import GatewayConfig
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from sambert_tts_protos.v1 import gateway_service_pb2_grpc as gw_grpc
from tests.service.certs import Certs, make_certs
from tests.service.conftest import wait_serving
from tests.service.fake_stages import _KINDS, FakeStages
from tests.service.runtime_helpers import (
    SERVICE,
    SERVING,
    TIMEOUT_S,
    Dummy,
    free_port,
    samples,
    wait_for_status,
)
from tts_common.apikeys import ApiKeys
from tts_common.config import ServerConfig
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics
from tts_common.server import build_server, metrics_host, serve
from tts_common.tls import ClientTls

ALICE, BOB = "alice-key-0123456789abcdef", "bob-key-0123456789abcdef"
KEYS = ApiKeys.parse(f"alice:{ALICE}\nbob:{BOB}:0.5:2  # slow\n", "test")
TEXT = "你好世界。"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _tls(certs: Certs, mutual: bool = False) -> dict[str, Any]:
    return {"tls_cert_file": certs.server_cert, "tls_key_file": certs.server_key,
            "tls_client_ca_file": certs.ca if mutual else ""}  # fmt: skip


class Harness:
    """A started gateway: its app, metrics and address."""

    def __init__(self, app: Gateway, server: grpc.aio.Server, port: int) -> None:
        self.app, self.server, self.addr = app, server, f"127.0.0.1:{port}"
        self.channels: list[grpc.aio.Channel] = []

    def stub(
        self, credentials: grpc.ChannelCredentials | None = None
    ) -> gw_grpc.GatewayServiceStub:
        channel = (grpc.aio.secure_channel(self.addr, credentials) if credentials
                   else grpc.aio.insecure_channel(self.addr))  # fmt: skip
        self.channels.append(channel)
        return gw_grpc.GatewayServiceStub(channel)


def _render(app: Gateway) -> str:
    return generate_latest(app.metrics.registry).decode()


StartGateway = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def secure_gateway(fake_stages: FakeStages) -> AsyncIterator[StartGateway]:
    """Factory: a gateway with API keys and/or TLS in front of ``fake_stages``."""
    started: list[Harness] = []

    async def start(
        keys: ApiKeys = KEYS,
        server: dict[str, Any] | None = None,
        stage_tls: ClientTls | None = None,
        addrs: tuple[str, str, str] | None = None,
        startup_timeout_s: float = 5.0,
    ) -> Harness:
        fe, am, voc = addrs or fake_stages.addrs
        metrics = Metrics("gateway")
        cfg = GatewayConfig(
            frontend_addrs=(fe,), acoustic_addrs=(am,), vocoder_addrs=(voc,),
            server=ServerConfig(host="127.0.0.1", port=0, grace_s=0.5,
                                **(server or {})),
            api_keys=keys, stage_tls=stage_tls or ClientTls(),
            startup_timeout_s=startup_timeout_s,
        )  # fmt: skip
        app = Gateway(cfg, metrics=metrics)
        srv, port, health = build_server(
            cfg.server, app.register, metrics=metrics, interceptors=app.interceptors
        )
        await srv.start()
        harness = Harness(app, srv, port)
        started.append(harness)
        await app.warmup()
        await health.mark_serving()
        return harness

    yield start
    for harness in started:
        for channel in harness.channels:
            await channel.close()
        await harness.server.stop(None)
        await harness.app.close()


def _bearer(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def _auth_counts(harness: Harness) -> dict[tuple[tuple[str, str], ...], float]:
    return samples(_render(harness.app), "tts_auth_requests_total")


# --- API keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [(), _bearer("wrong-key-0123456789abcdef"), (("x-api-key", "short"),),
     (("authorization", f"Basic {ALICE}"),)],
    ids=["none", "wrong", "malformed", "not-bearer"],
)  # fmt: skip
async def test_without_a_valid_key_nothing_runs(
    secure_gateway, fake_stages, log_lines, metadata
) -> None:
    """UNAUTHENTICATED with a message saying how to send the key, before any
    handler: no stage is called, no synthesis counted, the key never logged."""
    harness = await secure_gateway()
    stub = harness.stub()
    calls = [s.seen.calls for s in (fake_stages.frontend, fake_stages.acoustic)]
    for method, request in (
        (stub.Synthesize, gw.SynthesizeRequest(text=TEXT)),
        (stub.ListVoices, gw.ListVoicesRequest()),
        (stub.GetCacheReport, gw.GetCacheReportRequest()),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await method(request, timeout=TIMEOUT_S, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "authorization: Bearer <key>" in info.value.details()
    call = stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TEXT), timeout=TIMEOUT_S, metadata=metadata
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [s.seen.calls for s in (fake_stages.frontend, fake_stages.acoustic)] == calls
    text = _render(harness.app)
    assert samples(text, "tts_auth_requests_total") == {
        (("key", ""), ("result", "unauthenticated")): 4.0
    }
    handled = samples(text, "grpc_server_handled_total")
    assert {dict(k)["grpc_code"] for k in handled} == {"UNAUTHENTICATED"}
    assert samples(text, "tts_cache_misses_total") == {}
    assert "wrong-key" not in log_lines.getvalue()
    assert ALICE not in log_lines.getvalue()


async def test_right_key_runs_and_is_named_in_logs_and_metrics(
    secure_gateway, fake_stages, log_lines
) -> None:
    """Bearer or x-api-key: OK; the request's log lines and the metric carry the
    key's name, never the key."""
    harness = await secure_gateway()
    stub = harness.stub()
    reply = await stub.Synthesize(
        gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S, metadata=_bearer(ALICE)
    )
    assert reply.audio and fake_stages.acoustic.seen.calls == 1
    voices = await stub.ListVoices(
        gw.ListVoicesRequest(), timeout=TIMEOUT_S, metadata=(("x-api-key", BOB),)
    )
    assert voices.voices
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    synthesis = [r for r in lines if r["msg"].startswith("synthesis:")]
    assert [r.get("api_key") for r in synthesis] == ["alice"]
    assert ALICE not in log_lines.getvalue() and BOB not in log_lines.getvalue()
    assert _auth_counts(harness) == {
        (("key", "alice"), ("result", "ok")): 1.0,
        (("key", "bob"), ("result", "ok")): 1.0,
    }


async def test_rate_limit_refuses_with_a_retry_hint(secure_gateway) -> None:
    """bob may make 2 calls at once, then 0.5/s: the third is RESOURCE_EXHAUSTED
    with ``retry-after-ms``; alice (no limit) is unaffected."""
    harness = await secure_gateway()
    stub = harness.stub()
    for _ in range(2):
        await stub.ListVoices(gw.ListVoicesRequest(), timeout=TIMEOUT_S,
                              metadata=_bearer(BOB))  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListVoices(gw.ListVoicesRequest(), timeout=TIMEOUT_S,
                              metadata=_bearer(BOB))  # fmt: skip
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry in" in info.value.details()
    hint = dict(info.value.trailing_metadata() or ())["retry-after-ms"]
    assert 0 < int(hint) <= 2000
    for _ in range(5):
        await stub.ListVoices(gw.ListVoicesRequest(), timeout=TIMEOUT_S,
                              metadata=_bearer(ALICE))  # fmt: skip
    assert _auth_counts(harness)[(("key", "bob"), ("result", "rate_limited"))] == 1


async def test_health_stays_open_and_reflection_follows_config(secure_gateway) -> None:
    """Probes need no key; reflection sits behind the keys, and can be turned off."""
    harness = await secure_gateway()
    channel = grpc.aio.insecure_channel(harness.addr)
    harness.channels.append(channel)
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
    assert reply.status == SERVING
    assert await _reflect(channel, ()) == grpc.StatusCode.UNAUTHENTICATED
    assert await _reflect(channel, _bearer(ALICE)) == grpc.StatusCode.OK
    closed = await secure_gateway(server={"reflection": False})
    channel = grpc.aio.insecure_channel(closed.addr)
    closed.channels.append(channel)
    assert await _reflect(channel, _bearer(ALICE)) == grpc.StatusCode.UNIMPLEMENTED


async def _reflect(channel: grpc.aio.Channel, metadata: Any) -> grpc.StatusCode:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    call = stub.ServerReflectionInfo(timeout=TIMEOUT_S, metadata=metadata)
    # Written by hand, not from an iterator: a server that refuses the call at once
    # (no such service) may end it before the write, and grpcio then reports the
    # write's INTERNAL instead of the server's status (grpc/grpc#36066).
    with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
        await call.write(request)
        await call.done_writing()
    try:
        names = [s.name async for r in call for s in r.list_services_response.service]
    except grpc.aio.AioRpcError:
        return await call.code()
    assert "tts.v1.GatewayService" in names
    return grpc.StatusCode.OK


# --- TLS: the gateway -------------------------------------------------------------


async def _list_voices(stub: gw_grpc.GatewayServiceStub) -> grpc.StatusCode:
    try:
        await stub.ListVoices(gw.ListVoicesRequest(), timeout=3.0,
                              metadata=_bearer(ALICE))  # fmt: skip
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_gateway_tls_refuses_plaintext(secure_gateway, certs) -> None:
    """A TLS client connects; a plaintext one cannot."""
    harness = await secure_gateway(server=_tls(certs))
    assert await _list_voices(harness.stub(certs.grpc_credentials(False))) == (
        grpc.StatusCode.OK
    )
    assert await _list_voices(harness.stub()) == grpc.StatusCode.UNAVAILABLE


async def test_gateway_mutual_tls_needs_a_trusted_client_cert(
    secure_gateway, certs
) -> None:
    """mTLS: no client certificate, or one from another CA, is refused."""
    harness = await secure_gateway(server=_tls(certs, mutual=True))
    assert await _list_voices(harness.stub(certs.grpc_credentials())) == (
        grpc.StatusCode.OK
    )
    for creds in (certs.grpc_credentials(False), certs.grpc_credentials(rogue=True)):
        assert await _list_voices(harness.stub(creds)) == grpc.StatusCode.UNAVAILABLE
    assert await _list_voices(harness.stub()) == grpc.StatusCode.UNAVAILABLE


# --- TLS: a stage and the gateway's stage clients -----------------------------------


async def _tls_stages(certs: Certs) -> tuple[list[grpc.aio.Server], tuple[str, ...]]:
    """The three fakes on mutual-TLS servers (the shared build_server path)."""
    servers, addrs = [], []
    for stage in ("frontend", "acoustic", "vocoder"):
        make, add, name = _KINDS[stage]
        servicer = make()

        def register(server: grpc.aio.Server, s: object = servicer, a: Any = add,
                     n: str = name) -> list[str]:  # fmt: skip
            a(s, server)
            return [f"tts.v1.{n}Service"]

        cfg = ServerConfig(host="127.0.0.1", port=0, grace_s=0.5,
                           **_tls(certs, mutual=True))  # fmt: skip
        server, port, health = build_server(cfg, register)
        await server.start()
        await health.mark_serving()
        servers.append(server)
        addrs.append(f"127.0.0.1:{port}")
    return servers, tuple(addrs)


async def test_stage_hop_mutual_tls(secure_gateway, certs) -> None:
    """The gateway reaches mTLS stages with its client certificate; a plaintext
    client, or one without a certificate, does not reach a stage."""
    servers, addrs = await _tls_stages(certs)
    try:
        harness = await secure_gateway(stage_tls=certs.client_tls(), addrs=addrs)
        reply = await harness.stub().Synthesize(
            gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S, metadata=_bearer(ALICE)
        )
        assert reply.audio
        for credentials in (None, certs.grpc_credentials(False)):
            channel = (grpc.aio.secure_channel(addrs[0], credentials) if credentials
                       else grpc.aio.insecure_channel(addrs[0]))  # fmt: skip
            async with channel:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=3.0
                    )
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(TimeoutError, match="frontend stage not SERVING"):
            await secure_gateway(addrs=addrs, startup_timeout_s=1.0)  # plaintext
    finally:
        await asyncio.gather(*(s.stop(None) for s in servers))


async def test_stage_server_tls_in_the_runtime(certs) -> None:
    """Any stage's server (tts_common.server): TLS client yes, plaintext no."""
    executor = BoundedExecutor(max_workers=1, max_queue=0)
    cfg = ServerConfig(host="127.0.0.1", port=0, grace_s=0.5, **_tls(certs))
    server, port, health = build_server(cfg, Dummy(executor).register)
    await server.start()
    await health.mark_serving()
    addr = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.secure_channel(addr, certs.grpc_credentials(False)) as ch:
            assert await ch.unary_unary(f"/{SERVICE}/Echo")(b"hi", timeout=5) == b"hi"
        async with grpc.aio.insecure_channel(addr) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await channel.unary_unary(f"/{SERVICE}/Echo")(b"hi", timeout=3)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)
        executor.close()


# --- metrics bind where gRPC binds ------------------------------------------------


def test_metrics_host_follows_the_grpc_host() -> None:
    assert metrics_host("127.0.0.1") == "127.0.0.1"
    assert metrics_host("[::1]") == "::1"
    assert metrics_host("[::]") == metrics_host("0.0.0.0") == "0.0.0.0"


async def test_serve_binds_metrics_on_the_server_host() -> None:
    """serve() on 127.0.0.1 listens for metrics on 127.0.0.1 only, not 0.0.0.0."""
    grpc_port, metrics_port = free_port(), free_port()
    cfg = ServerConfig(host="127.0.0.1", port=grpc_port, metrics_port=metrics_port,
                       grace_s=0.5)  # fmt: skip
    executor, stop = BoundedExecutor(max_workers=1, max_queue=0), asyncio.Event()
    task = asyncio.create_task(serve(cfg, Dummy(executor).register, Metrics("t"),
                                     on_close=executor.close, stop=stop))  # fmt: skip
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            await wait_for_status(channel, SERVING)
        listening = {
            addr.ip
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
            and (addr := cast(Any, c.laddr))
            and addr.port == metrics_port
        }
        assert listening == {"127.0.0.1"}
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT_S)


async def test_stage_process_serves_tls_from_its_env(launch, certs) -> None:
    """``python -m frontend_svc`` with ``FRONTEND_TLS_*``: the real entry point reads
    the files; mutual TLS clients are served, plaintext ones are not, and
    ``FRONTEND_REFLECTION=false`` leaves reflection out."""
    port = free_port()
    launch("frontend_svc", {
        "FRONTEND_HOST": "127.0.0.1", "FRONTEND_PORT": str(port),
        "FRONTEND_METRICS_PORT": "0", "FRONTEND_REFLECTION": "false",
        "FRONTEND_TLS_CERT_FILE": certs.server_cert,
        "FRONTEND_TLS_KEY_FILE": certs.server_key,
        "FRONTEND_TLS_CLIENT_CA_FILE": certs.ca,
    })  # fmt: skip
    addr = f"127.0.0.1:{port}"
    async with grpc.aio.secure_channel(addr, certs.grpc_credentials()) as channel:
        await wait_serving(channel)
        assert await _reflect(channel, ()) == grpc.StatusCode.UNIMPLEMENTED
    for credentials in (None, certs.grpc_credentials(False)):
        channel = (grpc.aio.secure_channel(addr, credentials) if credentials
                   else grpc.aio.insecure_channel(addr))  # fmt: skip
        async with channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=3.0
                )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
