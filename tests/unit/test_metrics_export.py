"""What every service's registry carries (process, build and model info) and the
HTTP bridge's own ``/metrics``: requests by route and status, latency."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.http.app import METRICS, build_app
from gateway.http.config import HttpConfig
from gateway.http.metrics import HttpMetrics
from tts_common.apikeys import ApiKeys
from tts_common.metrics import Metrics, package_version

_DEAD_GATEWAY = "127.0.0.1:1"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _get(samples, name: str, **labels: str) -> float | None:
    value = samples.get((name, frozenset(labels.items())))
    return None if value is None else float(value)


def test_every_stage_registry_has_process_and_build_info() -> None:
    samples = _samples(Metrics("acoustic").render())
    names = {name for name, _ in samples}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes",
            "process_start_time_seconds", "python_info"} <= names  # fmt: skip
    version = importlib.metadata.version("sambert-tts-service")
    assert package_version() == version
    assert _get(samples, "tts_build_info", service="acoustic", version=version) == 1


def test_model_info_lists_the_voices_served_and_drops_old_revisions() -> None:
    metrics = Metrics("vocoder")
    metrics.set_models({"a": "rev1", "b": "rev2"})
    metrics.set_models({"a": "rev3"})
    samples = _samples(metrics.render())
    info = {dict(k[1])["voice"]: dict(k[1])["revision"] for k in samples
            if k[0] == "tts_model_info"}  # fmt: skip
    assert info == {"a": "rev3"}


@pytest.fixture
async def bridge() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The bridge app in front of a gateway that is not there."""
    app = build_app(HttpConfig(gateway_addr=_DEAD_GATEWAY))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_bridge_counts_requests_by_route_and_status(bridge) -> None:
    for path, status in (("/healthz", 200), ("/healthz", 200), ("/nope/123", 404),
                         ("/v1/nope", 404), ("/readyz", 503)):  # fmt: skip
        reply = await bridge.get(path)
        assert reply.status == status, path
    reply = await bridge.post("/v1/audio/speech", data=b"{not json")
    assert reply.status == 400
    reply = await bridge.get("/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=")
    samples = _samples(await reply.text())
    count = "http_requests_total"
    assert _get(samples, count, route="/healthz", method="GET", status="200") == 2
    # Unrouted paths share one label value, whatever the path.
    assert _get(samples, count, route="unmatched", method="GET", status="404") == 2
    assert _get(samples, count, route="/readyz", method="GET", status="503") == 1
    speech = {"route": "/v1/audio/speech", "method": "POST"}
    assert _get(samples, count, status="400", **speech) == 1
    assert _get(samples, "http_request_duration_seconds_count", **speech) == 1
    assert _get(samples, "http_requests_in_flight") == 1  # this scrape
    assert _get(samples, "tts_build_info", service="http", version=package_version())
    assert _get(samples, "process_resident_memory_bytes")


async def test_metrics_needs_no_api_key() -> None:
    keys = ApiKeys.parse("ops:" + "k" * 32, "test")
    app = build_app(HttpConfig(gateway_addr=_DEAD_GATEWAY, api_keys=keys))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/v1/voices")).status == 401
        assert (await client.get("/metrics")).status == 200
        text = await (await client.get("/metrics")).text()
    assert _get(_samples(text), "http_requests_total", route="/v1/voices",
                method="GET", status="401") == 1  # fmt: skip
    assert isinstance(app[METRICS], HttpMetrics)


async def test_a_client_that_hangs_up_counts_as_499() -> None:
    """As the bridge runs (handler_cancellation): the hang-up cancels the handler."""
    metrics, started = HttpMetrics(), asyncio.Event()

    async def slow(_request: web.Request) -> web.StreamResponse:
        started.set()
        await asyncio.sleep(60)
        raise AssertionError("not cancelled")

    app = web.Application(middlewares=[metrics.middleware])
    app.router.add_get("/slow", slow)
    async with TestClient(TestServer(app, handler_cancellation=True)) as client:
        call = asyncio.ensure_future(client.get("/slow"))
        await asyncio.wait_for(started.wait(), 10)
        call.cancel()  # the client hangs up
        with pytest.raises(asyncio.CancelledError):
            await call
        for _ in range(100):
            samples = _samples(generate_latest(metrics.registry).decode())
            if _get(samples, "http_requests_in_flight") == 0:
                break
            await asyncio.sleep(0.05)
    assert _get(samples, "http_requests_total", route="/slow", method="GET",
                status="499") == 1  # fmt: skip
    assert _get(samples, "http_requests_in_flight") == 0
