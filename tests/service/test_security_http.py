"""API keys and TLS on the HTTP bridge, in process, in front of a gateway on fakes:
401/429 in OpenAI's shape before the gateway is called, the key passed on, HTTPS
and mutual TLS, and TLS on the bridge's own hop to the gateway."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.http import HttpConfig, build_app
from tests.service import test_security_grpc as _grpc
from tests.service.certs import Certs
from tests.service.test_security_grpc import ALICE, BOB, KEYS, TEXT, _auth_counts
from tts_common.tls import server_ssl_context

# Shared fixtures: certificates and the gateway factory.
certs = _grpc.certs
secure_gateway = _grpc.secure_gateway

StartBridge = Callable[[HttpConfig], Awaitable[str]]


@pytest.fixture
async def bridge() -> AsyncIterator[StartBridge]:
    """Factory: the bridge app for a config, served as ``gateway.http.server`` does
    (with its TLS context); returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(cfg: HttpConfig) -> str:
        runner = web.AppRunner(build_app(cfg))
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0,
                           ssl_context=server_ssl_context(cfg))  # fmt: skip
        await site.start()
        port = runner.addresses[0][1]
        return f"{'https' if cfg.tls_cert_file else 'http'}://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def _call(
    url: str,
    path: str,
    key: str | None = None,
    header: str = "Authorization",
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    headers = {}
    if key is not None:
        headers[header] = f"Bearer {key}" if header == "Authorization" else key
    body: Any = {"input": TEXT, "response_format": "wav"}
    async with aiohttp.ClientSession() as session:
        if path == "/v1/audio/speech":
            request = session.post(url + path, json=body, headers=headers,
                                   ssl=ssl_context or True)  # fmt: skip
        else:
            request = session.get(url + path, headers=headers, ssl=ssl_context or True)
        async with request as reply:
            return reply.status, dict(reply.headers), await reply.read()


def _error(body: bytes) -> dict[str, str]:
    error: dict[str, str] = json.loads(body)["error"]
    assert set(error) == {"message", "type", "code"}
    return error


async def test_bridge_refuses_without_a_key_before_the_gateway(
    secure_gateway, bridge, fake_stages, log_lines
) -> None:
    """/v1/* without a valid key: 401 with WWW-Authenticate, the gateway never called;
    health, the page and its files stay open."""
    gateway = await secure_gateway()
    url = await bridge(HttpConfig(gateway_addr=gateway.addr, api_keys=KEYS))
    calls = fake_stages.frontend.seen.calls
    for path in ("/v1/audio/speech", "/v1/voices", "/v1/cache/report"):
        for key in (None, "wrong-key-0123456789abcdef"):
            status, headers, body = await _call(url, path, key)
            assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
            error = _error(body)
            assert error["code"] == "invalid_api_key"
            assert "Authorization: Bearer <key>" in error["message"]
    assert fake_stages.frontend.seen.calls == calls
    assert _auth_counts(gateway) == {}  # nothing reached the gateway
    for path in ("/healthz", "/readyz", "/", "/static/app.js"):
        assert (await _call(url, path))[0] == 200, path
    assert "wrong-key" not in log_lines.getvalue()


async def test_bridge_right_key_is_named_and_passed_on(
    secure_gateway, bridge, log_lines
) -> None:
    """A valid key: audio; the bridge logs the name, the gateway counts the same
    name (the key was passed on); ``X-Api-Key`` works too."""
    gateway = await secure_gateway()
    url = await bridge(HttpConfig(gateway_addr=gateway.addr, api_keys=KEYS))
    status, _, body = await _call(url, "/v1/audio/speech", ALICE)
    assert status == 200 and body[:4] == b"RIFF"
    status, _, body = await _call(url, "/v1/voices", ALICE, header="X-Api-Key")
    assert status == 200 and json.loads(body)["voices"]
    records = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    speech = [r for r in records if r["msg"].startswith("speech ")]
    assert [r.get("api_key") for r in speech] == ["alice"]
    assert ALICE not in log_lines.getvalue()
    counts = _auth_counts(gateway)
    assert counts[(("key", "alice"), ("result", "ok"))] >= 2


async def test_bridge_rate_limit_answers_429_with_retry_after(
    secure_gateway, bridge
) -> None:
    gateway = await secure_gateway()
    url = await bridge(HttpConfig(gateway_addr=gateway.addr, api_keys=KEYS))
    assert [(await _call(url, "/v1/voices", BOB))[0] for _ in range(2)] == [200, 200]
    status, headers, body = await _call(url, "/v1/voices", BOB)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert _error(body)["code"] == "rate_limit_exceeded"


async def test_bridge_without_keys_relays_the_gateways_verdict(
    secure_gateway, bridge
) -> None:
    """A bridge with no key list passes the caller's key on: the gateway's
    UNAUTHENTICATED becomes 401, its RESOURCE_EXHAUSTED a 429 with Retry-After."""
    gateway = await secure_gateway()
    url = await bridge(HttpConfig(gateway_addr=gateway.addr))
    status, _, body = await _call(url, "/v1/audio/speech")
    assert status == 401 and _error(body)["code"] == "invalid_api_key"
    assert (await _call(url, "/v1/audio/speech", ALICE))[0] == 200
    statuses = [(await _call(url, "/v1/voices", BOB))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    _, headers, _ = await _call(url, "/v1/voices", BOB)
    assert int(headers["Retry-After"]) >= 1


async def test_https_refuses_plaintext_and_mutual_tls_needs_a_cert(
    bridge, certs: Certs
) -> None:
    tls: dict[str, Any] = {
        "tls_cert_file": certs.server_cert,
        "tls_key_file": certs.server_key,
    }
    url = await bridge(HttpConfig(**tls))
    assert (await _call(url, "/healthz", ssl_context=certs.ssl_context(False)))[
        0
    ] == 200
    plain = url.replace("https://", "http://")
    with pytest.raises(aiohttp.ClientError):
        await _call(plain, "/healthz")
    mutual = await bridge(HttpConfig(**tls, tls_client_ca_file=certs.ca))
    assert (await _call(mutual, "/healthz", ssl_context=certs.ssl_context()))[0] == 200
    with pytest.raises(aiohttp.ClientError):
        await _call(mutual, "/healthz", ssl_context=certs.ssl_context(False))


async def test_bridge_to_gateway_hop_over_mutual_tls(
    secure_gateway, bridge, certs: Certs
) -> None:
    """The bridge's gRPC client presents its certificate to an mTLS gateway; without
    TLS settings it cannot reach it (not ready)."""
    server = {"tls_cert_file": certs.server_cert, "tls_key_file": certs.server_key,
              "tls_client_ca_file": certs.ca}  # fmt: skip
    gateway = await secure_gateway(server=server)
    url = await bridge(HttpConfig(gateway_addr=gateway.addr,
                                  gateway_tls=certs.client_tls()))  # fmt: skip
    assert (await _call(url, "/readyz"))[0] == 200
    status, _, body = await _call(url, "/v1/audio/speech", ALICE)
    assert status == 200 and body[:4] == b"RIFF"
    plain = await bridge(HttpConfig(gateway_addr=gateway.addr))
    status, _, body = await _call(plain, "/readyz")
    assert status == 503 and json.loads(body)["status"] == "UNREACHABLE"


def _webui_with_key(chromium: str, url: str) -> tuple[str, str, str | None]:
    """Open the page without a key, then type one: (status before, status after,
    the key the page stored)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#status[data-state=error]", timeout=30_000)
        before = page.text_content("#status") or ""
        page.fill("#api-key", ALICE)
        page.dispatch_event("#api-key", "change")
        page.wait_for_selector("#speak:not([disabled])", timeout=30_000)
        after = page.text_content("#status") or ""
        stored = page.evaluate("localStorage.getItem('ttsApiKey')")
        browser.close()
    return before, after, stored


async def test_webui_sends_the_key_it_stores(secure_gateway, bridge) -> None:
    """The page loads without a key (static files are open), cannot list voices,
    and works once a key is typed into its field (kept in localStorage)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no Chromium (apt-get install -y chromium)")
    gateway = await secure_gateway()
    url = await bridge(HttpConfig(gateway_addr=gateway.addr, api_keys=KEYS))
    before, after, stored = await asyncio.to_thread(_webui_with_key, chromium, url)
    assert "API key" in before
    assert after == "Ready" and stored == ALICE
