"""Hypothesis fuzz of the gateway: gRPC requests with hostile field values, random
bytes on the raw channel, and hostile HTTP bodies and queries. Whatever a caller
sends, the gateway answers with a status that says what was wrong (never INTERNAL
or UNKNOWN), and the HTTP bridge never answers 5xx.

The stack runs in process (:mod:`tests.service.hostile_stack`): the real frontend,
so SSML, entities and the normalizer really run, fake acoustic and vocoder stages,
a real Redis behind the cache and the report. ``--fuzz-examples N`` sets the
examples per test (CI runs the default; ``--fuzz-examples 10000`` for a long run by
hand). Hypothesis prints the failing example and how to reproduce it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import grpc
import pytest
import redis
import yarl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.hostile_stack import (
    MAX_TEXT_CHARS,
    HostileStack,
    proto_field,
    raw_method,
    start_hostile_stack,
)
from tests.service.stack_target import (
    GROWTH_LIMIT,
    StackTarget,
    local_stack_target,
)
from tests.service.test_gateway_cache import start_redis

_T = TypeVar("_T")
_BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
_CALL_TIMEOUT_S = 30.0


@dataclass
class Live:
    """The stack, on a loop of its own that each example runs on."""

    loop: asyncio.AbstractEventLoop
    stack: HostileStack | StackTarget
    session: aiohttp.ClientSession

    def run(self, coro: Awaitable[_T]) -> _T:
        return self.loop.run_until_complete(coro)


@pytest.fixture(scope="module")
def live(pytestconfig: pytest.Config) -> Iterator[Live]:
    """One stack for the module; hypothesis calls a plain function per example, so
    the stack gets its own event loop instead of pytest-asyncio's."""
    model_dir = pytestconfig.getoption("--fuzz-stack")
    if model_dir:
        yield from _live_on_local_stack(model_dir)
        return
    from frontend_svc import Frontend

    server = start_redis()
    # Counters that have run for long: hour buckets exist for every window.
    redis.Redis(port=server.port).set("tts:stats:hours_since", 0)
    loop = asyncio.new_event_loop()
    try:
        stack = loop.run_until_complete(start_hostile_stack(Frontend(), server.url))
        session = loop.run_until_complete(_session())
        yield Live(loop, stack, session)
        loop.run_until_complete(session.close())
        loop.run_until_complete(stack.close())
    finally:
        loop.close()
        server.stop()


def _live_on_local_stack(model_dir: str) -> Iterator[Live]:
    """The real stack's processes; afterwards their memory, checked (#13: none
    grows past 2x what it had after start-up)."""
    loop = asyncio.new_event_loop()
    try:
        with local_stack_target(model_dir, loop) as (target, watch):
            session = loop.run_until_complete(_session())
            yield Live(loop, target, session)
            loop.run_until_complete(session.close())
        print("\nper-process memory during the fuzz run:\n" + watch.table())
        assert not watch.grown(), f"grew past {GROWTH_LIMIT}x: {watch.grown()}"
    finally:
        loop.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_CALL_TIMEOUT_S))


def _fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip


# --- strategies --------------------------------------------------------------------

_SSML_PARTS = [
    "你好", "第一句。", "2024年1月1日，气温-3℃。", '<break time="10s"/>',
    '<break strength="x-strong"/>', '<break time="abc"/>', '<prosody rate="x-fast">',
    '<prosody rate="0">', '<prosody rate="1e400">', '<prosody volume="+99dB">',
    "</prosody>", '<say-as interpret-as="cardinal">123456789012345678901234</say-as>',
    '<say-as interpret-as="characters">ABC123</say-as>',
    '<say-as interpret-as="bogus">1</say-as>', '<phoneme alphabet="py" ph="ni3 hao3">你好'
    "</phoneme>", '<phoneme ph="zz9">好</phoneme>', '<sub alias="世界">W</sub>',
    '<emotion name="happy">', '<emotion name="nope">', "</emotion>", "<foo>", "&amp;",
    "&#x4e2d;", "&#0;", "&lol;", "<![CDATA[<x>]]>", "<!-- c -->", "\x00", "<",
]  # fmt: skip


def _entity_bomb(depth: int) -> str:
    """A document type whose entities multiply by ten per level (refused outright)."""
    decls = ['<!ENTITY e0 "你好你好你好你好你好">'] + [
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, depth + 1)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE speak [{"".join(decls)}]>'
        f"<speak>&e{depth};</speak>"
    )


_TEXTS = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(max_codepoint=0x3000), max_size=300),
    st.text("0123456789.,%℃/-:年月日号点 +*=", max_size=200),
    st.lists(st.sampled_from(_SSML_PARTS), max_size=25).map(
        lambda parts: "<speak>" + "".join(parts) + "</speak>"
    ),
    st.integers(1, 7).map(_entity_bomb),
    st.integers(MAX_TEXT_CHARS - 2, MAX_TEXT_CHARS + 2).map(
        lambda n: "好。" * (n // 2)
    ),
    st.integers(1, 300).map(lambda n: '<speak>好<break time="10s"/></speak>' * n),
    st.sampled_from(["", " ", "\n\t", "。。。", "\u200b", "<speak>", "<speak/>"]),
)
_NAMES = st.one_of(
    st.sampled_from(["", "zhitian_emo", "zhiyan_emo", "nobody", "happy", "F7"]),
    st.text(max_size=40),
)


_ASCII_ID = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=130)
_FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    # field: (a usual value, a hostile one); each field is hostile one time in eight,
    # so that most requests get past the checks and reach the stages.
    "voice": (st.sampled_from(["", "zhitian_emo", "zhiyan_emo"]), _NAMES),
    "emotion": (st.sampled_from(["", "", "happy"]), _NAMES),
    "speaker": (st.sampled_from(["", "F7"]), _NAMES),
    "speed": (st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.5, 2.0, width=32)),
              st.floats(width=32)),
    "volume_gain_db": (st.floats(-30, 12, width=32), st.floats(width=32)),
    "encoding": (st.integers(0, 5), st.integers(-3, 2**31 - 1)),
    "sample_rate_hz": (st.sampled_from([0, 8000, 16000, 24000, 48000]),
                       st.integers(0, 2**32 - 1)),
    "no_cache": (st.booleans(), st.booleans()),
    "request_id": (st.one_of(st.just(""), _ASCII_ID), st.text(max_size=150)),
}  # fmt: skip


@st.composite
def _synthesis(draw: st.DrawFn) -> dict[str, Any]:
    text = draw(_TEXTS)
    fields = {
        "text": text,
        "ssml": draw(st.one_of(st.just(text.startswith("<")), st.booleans())),
    }
    for name, (usual, hostile) in _FIELDS.items():
        fields[name] = draw(hostile if draw(st.integers(0, 7)) == 0 else usual)
    return fields


_INVALID_UTF8 = st.sampled_from([b"\xed\xa0\x80", b"\xff", b"\xc3", b"a\x80b"])
_RAW = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.tuples(st.integers(1, 20), st.one_of(st.binary(max_size=40), _INVALID_UTF8)),
        max_size=6,
    ).map(lambda fields: b"".join(proto_field(n, p) for n, p in fields)),
)

_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(10**600), 10**600)
    | st.text(st.characters(exclude_categories=()), max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
_SPEECH_USUAL = st.fixed_dictionaries(
    {"input": _TEXTS},
    optional={
        "voice": st.sampled_from(["", "zhitian_emo", "zhiyan_emo"]),
        "response_format": st.sampled_from(["mp3", "opus", "flac", "wav", "pcm"]),
        "speed": st.floats(0.5, 2.0), "no_cache": st.booleans(),
        "model": st.just("tts-1"),
    },
)  # fmt: skip
_SPEECH = st.fixed_dictionaries(
    {},
    optional={
        "input": st.one_of(_TEXTS, st.text(st.characters(exclude_categories=())), _JSON),
        "voice": st.one_of(_NAMES, _JSON), "model": st.one_of(st.just("tts-1"), _JSON),
        "response_format": st.one_of(
            st.sampled_from(["mp3", "opus", "flac", "wav", "pcm", "aac", ""]), _JSON
        ),
        "speed": st.one_of(
            st.floats(), st.integers(-(10**500), 10**500), st.sampled_from([0.5, 2]),
            _JSON,
        ),
        "emotion": st.one_of(_NAMES, _JSON), "speaker": st.one_of(_NAMES, _JSON),
        "no_cache": st.one_of(st.booleans(), _JSON),
        "stream_format": st.one_of(st.sampled_from(["audio", "sse"]), _JSON),
    },
)  # fmt: skip
_SPECIAL_BODIES = st.sampled_from([
    b"[" * 100_000, b"{" * 50_000, b'{"input": "\\ud800"}', b'{"input": "\\udfff\\ud800"}',
    b'{"input": "hi", "speed": 1e309}', b'{"input": "hi", "speed": -1e309}',
    b'{"input": "hi", "speed": ' + b"1" * 5000 + b"}",
    b'{"input": "hi", "speed": 1' + b"0" * 400 + b"}", b'{"input": "hi", "speed": NaN}',
    b"\xff\xfe\x00", b"null", b"[]", b'"text"', b"1", b"", b'{"input": 5}',
])  # fmt: skip
_BODIES = st.one_of(
    _SPEECH_USUAL.map(lambda v: json.dumps(v).encode()),
    _SPEECH_USUAL.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    _JSON.map(lambda v: json.dumps(v).encode()),
    _SPEECH.map(lambda v: json.dumps(v).encode()),
    _SPECIAL_BODIES,
)
_QUERY_VALUES = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.integers(0, 2_592_000).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.text(st.characters(exclude_categories=()), max_size=20),
)
_HEADER = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                exclude_characters="\x7f"), max_size=150)  # fmt: skip


# --- the calls ---------------------------------------------------------------------


OUTCOMES: Counter[str] = Counter()
"""Statuses seen, by call kind (printed with ``TTS_FUZZ_REPORT=1``)."""


async def _grpc_code(make: Callable[[], Any], stream: bool) -> grpc.StatusCode:
    """The status of the call ``make()`` starts (made here, on the stack's loop:
    grpc.aio calls belong to the loop they are made in)."""
    code = grpc.StatusCode.OK
    try:
        call = make()
        if stream:
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError as err:
        code = err.code()
    OUTCOMES[f"grpc {code.name}"] += 1
    return code


async def _synthesize(
    stack: HostileStack | StackTarget, fields: dict[str, Any], stream: bool
) -> Any:
    def make() -> Any:
        if stream:
            request = gw.StreamSynthesizeRequest(**fields)
            return stack.stub.StreamSynthesize(request, timeout=_CALL_TIMEOUT_S)
        return stack.stub.Synthesize(
            gw.SynthesizeRequest(**fields), timeout=_CALL_TIMEOUT_S
        )

    return await _grpc_code(make, stream)


async def _http(
    live: Live, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    url = yarl.URL(live.stack.http_url + path, encoded=True)
    async with live.session.request(method, url, data=body, headers=headers) as reply:
        try:
            data = await reply.read()
        except TimeoutError:
            if reply.status >= 400:
                raise
            # A long text on the real stack: the audio was still streaming when
            # the client's own timeout ran out. Not an error of the server's.
            OUTCOMES[f"http {method} {path.split('?')[0]} client timeout"] += 1
            data = b""
    OUTCOMES[f"http {method} {path.split('?')[0]} {reply.status}"] += 1
    return reply.status, data


def _check_http(status: int, data: bytes, path: str) -> None:
    assert status < 500, (status, data[:300])
    if status >= 400 and path.startswith("/v1/"):
        error = json.loads(data)["error"]
        assert set(error) == {"message", "type", "code"} and error["message"]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the tests ---------------------------------------------------------------------


def test_fuzz_grpc_fields(live: Live, fuzz_examples: int) -> None:
    """Typed Synthesize/StreamSynthesize and GetCacheReport with hostile values."""

    @_fuzz(fuzz_examples)
    @given(fields=_synthesis(), stream=st.booleans(),
           report=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
                            _NAMES))  # fmt: skip
    def example(fields: dict[str, Any], stream: bool, report: tuple[Any, ...]) -> None:
        code = live.run(_synthesize(live.stack, fields, stream))
        assert code not in _BAD, (code, fields)
        window, top, voice = report
        request = gw.GetCacheReportRequest(
            window_s=window, max_top_sentences=top, voice=voice
        )
        report_call = live.stack.stub.GetCacheReport
        code = live.run(
            _grpc_code(lambda: report_call(request, timeout=_CALL_TIMEOUT_S), False)
        )
        assert code not in _BAD, (code, report)

    example()


def test_fuzz_grpc_raw_bytes(live: Live, fuzz_examples: int) -> None:
    """Random bytes, and fields that are not UTF-8, as each method's request."""
    methods = [("Synthesize", False), ("StreamSynthesize", True),
               ("ListVoices", False), ("GetCacheReport", False)]  # fmt: skip

    @_fuzz(fuzz_examples)
    @given(payload=_RAW, method=st.sampled_from(methods))
    def example(payload: bytes, method: tuple[str, bool]) -> None:
        name, stream = method

        def make() -> Any:
            method = raw_method(live.stack.channel, name, stream)
            return method(payload, timeout=_CALL_TIMEOUT_S)

        code = live.run(_grpc_code(make, stream))
        assert code not in _BAD, (code, name, payload)

    example()


def test_fuzz_http(live: Live, fuzz_examples: int) -> None:
    """Hostile speech bodies, report queries and request-id headers over HTTP."""
    before = _rss_mib()

    @_fuzz(fuzz_examples)
    @given(body=_BODIES, window=_QUERY_VALUES, top=_QUERY_VALUES,
           voice=_QUERY_VALUES, request_id=_HEADER,
           which=st.sampled_from(["speech"] * 6 + ["report"] * 3 + ["voices"]))  # fmt: skip
    def example(
        body: bytes, window: str, top: str, voice: str, request_id: str, which: str
    ) -> None:
        headers = {"X-Request-Id": request_id, "Content-Type": "application/json"}
        if which == "voices":
            path = "/v1/voices"
            status, data = live.run(_http(live, "GET", path, None, headers))
        elif which == "report":
            query = "&".join(
                f"{k}={quote(v, errors='surrogatepass')}"
                for k, v in (("window_s", window), ("top", top), ("voice", voice))
            )
            path = f"/v1/cache/report?{query}"
            status, data = live.run(_http(live, "GET", path, None, headers))
        else:
            path = "/v1/audio/speech"
            status, data = live.run(_http(live, "POST", path, body, headers))
        _check_http(status, data, path)

    example()
    if os.environ.get("TTS_FUZZ_REPORT"):
        print(f"max RSS {before:.0f} MiB before, {_rss_mib():.0f} MiB after")
        for outcome, count in sorted(OUTCOMES.items()):
            print(f"{count:7d}  {outcome}")
