"""StreamingSynthesize (text in pieces, audio out) against fake stages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import numpy as np
import pytest

from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.fake_stages import RATE, samples_for
from tests.service.runtime_helpers import read_rest

TIMEOUT_S = 10.0
PAUSE = RATE * 400 // 1000
"""Samples of silence between two runs that closed at a sentence end."""
_Req = gw.StreamingSynthesizeRequest


def _config(**fields: Any) -> _Req:
    return _Req(config=gw.StreamSynthesizeRequest(**fields))


def _text(text: str) -> _Req:
    return _Req(text=text)


def _pcm(chunks: list[gw.SynthesisChunk]) -> np.ndarray:
    return np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")


async def _until_sentence_end(call: Any) -> list[gw.StreamingSynthesizeResponse]:
    """Read up to and including the next chunk that ends a sentence."""
    out = []
    while True:
        message = await call.read()
        assert message is not grpc.aio.EOF, "the stream ended early"
        out.append(message)
        if message.HasField("chunk") and message.chunk.last_in_sentence:
            return out


async def _unary_pcm(stub: Any, text: str) -> np.ndarray:
    reply = await stub.Synthesize(gw.SynthesizeRequest(text=text), timeout=TIMEOUT_S)
    return np.frombuffer(reply.audio, dtype="<i2")


async def test_sentences_are_spoken_as_their_text_completes(start_gateway) -> None:
    """Pieces split mid-word: each sentence's audio comes while the client is still
    writing; indexes continue across sentences; one header, one stream of audio
    (the sentences' audio with the frontend's sentence pause between them)."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config(request_id="ts-1"))
    for piece in ("你好", "世界", "。今"):
        await call.write(_text(piece))
    first = await _until_sentence_end(call)  # the input is still open
    assert first[0].HasField("header") and first[0].header.request_id == "ts-1"
    assert first[0].header.sample_rate_hz == RATE
    assert first[-1].chunk.sentence_index == 0 and not first[-1].chunk.last_in_stream
    assert first[-1].chunk.sentence.normalized_text == "你好世界"
    for piece in ("天天气", "很好。我们", "去公园吧"):
        await call.write(_text(piece))
    await call.done_writing()
    rest = await read_rest(call)
    assert not any(m.HasField("header") for m in rest)
    chunks = [m.chunk for m in first[1:] + rest]
    ends = [c for c in chunks if c.last_in_sentence]
    assert [c.sentence_index for c in ends] == [0, 1, 2]
    assert [c.sentence.index for c in ends] == [0, 1, 2]
    assert [c.last_in_stream for c in chunks] == [False] * (len(chunks) - 1) + [True]
    pcm = _pcm(chunks)
    sentences = ["你好世界。", "今天天气很好。", "我们去公园吧"]
    parts = [await _unary_pcm(gateway.stub, s) for s in sentences]
    silence = np.zeros(PAUSE, np.int16)
    expected = np.concatenate([parts[0], silence, parts[1], silence, parts[2]])
    assert np.array_equal(pcm, expected)
    assert pcm.size == sum(samples_for(s) for s in sentences) + 2 * PAUSE


async def test_first_audio_does_not_wait_for_the_rest_of_the_text(
    start_gateway, fake_stages
) -> None:
    """Audio of the first sentence arrives while the client has not ended."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config())
    await call.write(_text("你好世界。今天"))
    header = await call.read()
    chunk = (await call.read()).chunk
    assert header.HasField("header") and chunk.audio and chunk.sentence_index == 0
    assert fake_stages.frontend.seen.started == ["你好世界。"]
    await call.done_writing()
    rest = [m.chunk for m in await read_rest(call)]
    assert rest[-1].last_in_stream and rest[-1].sentence_index == 1


async def test_waiting_segments_are_spoken_as_one_text(
    start_gateway, fake_stages
) -> None:
    """Segments that closed while the gateway was busy go to the frontend together
    (one analysis, sentences in flight), and a piece's sentences close at once."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config())
    await call.write(_text("一二。三四。五六。"))
    await call.done_writing()
    messages = await read_rest(call)
    ends = [
        m.chunk for m in messages if m.HasField("chunk") and m.chunk.last_in_sentence
    ]
    assert [c.sentence_index for c in ends] == [0, 1, 2]
    assert messages[-1].chunk.last_in_stream
    # The first two closed on the same piece; the last at the end of the input.
    assert fake_stages.frontend.seen.started == ["一二。三四。", "五六。"]


async def test_flush_speaks_an_unfinished_sentence(start_gateway) -> None:
    """A flush speaks what came so far; the stream then goes on."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config())
    await call.write(_text("今天天气"))
    await call.write(_Req(flush=True))
    first = await _until_sentence_end(call)
    assert first[-1].chunk.sentence.normalized_text == "今天天气"
    await call.write(_text("很好"))
    await call.done_writing()
    rest = await read_rest(call)
    chunks = [m.chunk for m in first[1:] + rest]
    # A flushed fragment is not a sentence end: no pause after it.
    assert _pcm(chunks).size == samples_for("今天天气") + samples_for("很好")
    assert chunks[-1].last_in_stream and chunks[-1].sentence_index == 1


async def test_an_end_after_all_audio_gets_a_closing_chunk(start_gateway) -> None:
    """When the client ends after the last audio went out, a closing chunk (no
    audio in PCM) carries last_in_stream."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config())
    await call.write(_text("你好。"))
    await call.write(_Req(flush=True))
    first = await _until_sentence_end(call)
    assert not first[-1].chunk.last_in_stream
    await call.done_writing()
    (closing,) = await read_rest(call)
    assert closing.chunk.last_in_stream and not closing.chunk.audio
    assert closing.chunk.sentence_index == 0 and not closing.chunk.last_in_sentence


async def test_one_container_for_the_whole_call(start_gateway) -> None:
    """WAV: one header for the call, however many runs its text took."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config(encoding=audio_pb2.AUDIO_ENCODING_WAV))
    await call.write(_text("你好。今"))
    first = await _until_sentence_end(call)
    await call.write(_text("天很好。"))
    await call.done_writing()
    chunks = [m.chunk for m in first[1:] + await read_rest(call)]
    data = b"".join(c.audio for c in chunks)
    assert data.count(b"RIFF") == 1 and data.startswith(b"RIFF")
    samples = samples_for("你好。") + PAUSE + samples_for("今天很好。")
    assert len(data) == 44 + 2 * samples


async def test_no_synthesis_slot_is_held_while_waiting_for_text(start_gateway) -> None:
    """A stream idle between sentences leaves the slot to other requests."""
    gateway = await start_gateway(max_syntheses=1, max_waiting=0)
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config(no_cache=True))
    await call.write(_text("你好。今"))
    await _until_sentence_end(call)
    await asyncio.sleep(0.05)
    assert gateway.app.admission.running == 0
    reply = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="别的请求。", no_cache=True), timeout=TIMEOUT_S
    )
    assert reply.num_samples == samples_for("别的请求。")
    await call.done_writing()
    assert (await read_rest(call))[-1].chunk.last_in_stream


async def test_leaving_mid_stream_cancels_the_stages(
    start_gateway, fake_stages
) -> None:
    fake_stages.acoustic.gates["慢"] = asyncio.Event()
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config())
    await call.write(_text("很慢的一句。"))
    await call.write(_Req(flush=True))
    assert (await call.read()).HasField("header")
    call.cancel()
    await asyncio.wait_for(fake_stages.acoustic.seen.cancelled.wait(), TIMEOUT_S)


async def _refused(method: Any, messages: list[Any]) -> grpc.aio.AioRpcError:
    """The error that ends a call sending ``messages`` (the last one the bad one:
    a grpc.aio client that writes after the server ended the call gets its own
    INTERNAL "Internal error from Core" instead of the server's status)."""

    async def requests() -> AsyncIterator[Any]:
        for message in messages:
            yield message

    call = method(requests(), timeout=TIMEOUT_S)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await read_rest(call)
    return info.value


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([], "must be a config"),
        ([_text("你好。")], "must be a config"),
        ([_Req(flush=True)], "must be a config"),
        ([_config(text="你好。")], "config.text must be empty"),
        ([_config(ssml=True)], "ssml is not supported"),
        ([_config(speed=9.0)], "speed"),
        ([_config(), _text("你好"), _config()], "config may only be the first"),
        ([_config(), _text("你好"), _Req()], "must set text or flush"),
        ([_config(), _text("。。！"), _Req(flush=True)], "no text to speak"),
        ([_config()], "no text to speak"),
    ],
)
async def test_bad_streams_get_invalid_argument(
    start_gateway, messages: list[Any], says: str
) -> None:
    gateway = await start_gateway()
    error = await _refused(gateway.stub.StreamingSynthesize, messages)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert says in error.details()


async def test_an_unknown_voice_is_not_found(start_gateway) -> None:
    gateway = await start_gateway()
    error = await _refused(gateway.stub.StreamingSynthesize, [_config(voice="x")])
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_text_over_the_request_limit_is_refused(start_gateway) -> None:
    """The whole stream's text is bounded by one request's limit, even in small
    pieces and after audio went out."""
    gateway = await start_gateway(max_text_chars=20)
    messages = [_config()] + [_text("你好。") for _ in range(7)]
    error = await _refused(gateway.stub.StreamingSynthesize, messages)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "passed 20 characters" in error.details()


async def test_undecodable_text_is_invalid_argument(start_gateway) -> None:
    """A text piece that is not UTF-8 gets INVALID_ARGUMENT, not UNKNOWN."""
    gateway = await start_gateway()
    raw = gateway.channel.stream_stream(
        "/tts.v1.GatewayService/StreamingSynthesize",
        request_serializer=lambda b: b,
        response_deserializer=gw.StreamingSynthesizeResponse.FromString,
    )
    bad_text = b"\x12\x02\xff\xfe"  # field 2 (text), not UTF-8
    error = await _refused(raw, [_config().SerializeToString(), bad_text])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in error.details()


async def test_waiting_for_text_past_the_deadline_ends_the_call(start_gateway) -> None:
    """No idle limit but the call's own deadline: a client that stops writing gets
    DEADLINE_EXCEEDED from the gateway, saying the deadline covers waiting too."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=1.5)
    await call.write(_config())
    await call.write(_text("你好。今"))
    await _until_sentence_end(call)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await read_rest(call)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "waiting for text included" in info.value.details()


async def test_a_client_that_never_sends_its_config_is_timed_out(start_gateway) -> None:
    """The deadline also bounds the wait for the first message."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=1.0)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "waiting for text included" in info.value.details()


async def test_timings_count_from_the_start_of_the_calls_audio(start_gateway) -> None:
    """Asked for, each sentence's timings place it in the whole call's audio: after
    the sentences of earlier runs and the pauses between them."""
    gateway = await start_gateway()
    call = gateway.stub.StreamingSynthesize(timeout=TIMEOUT_S)
    await call.write(_config(enable_timings=True))
    await call.write(_text("你好。今"))
    first = await _until_sentence_end(call)
    await call.write(_text("天很好。"))
    await call.done_writing()
    chunks = [m.chunk for m in first[1:] + await read_rest(call)]
    timings = [c.sentence.timings.sentence for c in chunks if c.last_in_sentence]
    spans = [t for s in timings for t in (s.start_s, s.end_s)]
    one = samples_for("你好。") / RATE
    two = one + PAUSE / RATE
    assert spans == pytest.approx([0, one, two, two + samples_for("今天很好。") / RATE])
    assert spans[-1] == pytest.approx(_pcm(chunks).size / RATE)
