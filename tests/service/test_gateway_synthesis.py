"""Gateway synthesis against fake stages: samples, ordering, pipelining, ids."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.fake_stages import HOP, RATE, frames_for, samples_for
from tests.service.runtime_helpers import read_rest

TEXT = "你好世界。今天天气很好。我们去公园吧。"
TIMEOUT_S = 10.0


async def _stream(
    stub, **fields
) -> tuple[gw.StreamSynthesizeHeader, list[gw.SynthesisChunk]]:
    """Header and chunks of one StreamSynthesize call."""
    call = stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(**fields), timeout=TIMEOUT_S
    )
    messages = [m async for m in call]
    assert messages[0].HasField("header")
    assert all(m.HasField("chunk") for m in messages[1:])
    return messages[0].header, [m.chunk for m in messages[1:]]


def _pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


async def test_unary_and_stream_return_the_same_samples(start_gateway) -> None:
    """Synthesize and StreamSynthesize produce identical PCM of the predicted length."""
    gateway = await start_gateway()
    unary = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
    )
    header, chunks = await _stream(gateway.stub, text=TEXT)
    streamed = _pcm(b"".join(c.audio for c in chunks))
    expected = samples_for(TEXT)
    assert unary.num_samples == expected == streamed.size
    assert np.array_equal(_pcm(unary.audio), streamed)
    assert np.abs(streamed).max() > 1000  # real audio, not silence
    assert unary.encoding == header.encoding == audio_pb2.AUDIO_ENCODING_PCM_S16LE
    assert unary.sample_rate_hz == header.sample_rate_hz == RATE
    assert unary.duration_ms == round(expected * 1000 / RATE)


async def test_stream_chunks_are_ordered_and_flagged(start_gateway) -> None:
    """Chunks come sentence by sentence; flags and SentenceInfo mark the ends."""
    gateway = await start_gateway()
    header, chunks = await _stream(gateway.stub, text=TEXT, voice="zhiyan_emo")
    assert header.num_sentences == 3
    assert header.voice == "zhiyan_emo"
    assert header.revisions.acoustic == "am-rev"
    indices = [c.sentence_index for c in chunks]
    assert indices == sorted(indices) and set(indices) == {0, 1, 2}
    ends = [c for c in chunks if c.last_in_sentence]
    assert [c.sentence_index for c in ends] == [0, 1, 2]
    assert [c.last_in_stream for c in chunks] == [False] * (len(chunks) - 1) + [True]
    sentences = TEXT.split("。")[:3]
    for end, text in zip(ends, sentences, strict=True):
        info = end.sentence
        assert info.normalized_text == text
        assert info.duration_ms == round(frames_for(text) * HOP * 1000 / RATE)
        assert (info.revisions.frontend, info.revisions.vocoder) == (
            "fe-rev",
            "voc-rev",
        )
        assert not info.cached
    # The acoustic stage streams several mel chunks per sentence and the gateway
    # forwards each as it comes: more audio chunks than sentences.
    assert len(chunks) > 2 * len(sentences)


async def test_first_audio_arrives_before_the_last_sentence_is_synthesized(
    start_gateway, fake_stages
) -> None:
    """Sentence 0's audio reaches the client while the last sentence is still in
    the acoustic stage, which the gateway had already started (2 in flight)."""
    gate = fake_stages.acoustic.gates["今天"] = asyncio.Event()
    gateway = await start_gateway(sentences_in_flight=2)
    text = "你好世界。今天天气很好。"
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=text), timeout=TIMEOUT_S
    )
    assert (await call.read()).HasField("header")
    first = await call.read()
    assert first.chunk.sentence_index == 0 and first.chunk.audio
    assert not gate.is_set()
    assert "今天天气很好" in fake_stages.acoustic.seen.started  # N+1 already running
    gate.set()
    rest = [m.chunk for m in await read_rest(call)]
    assert rest[-1].last_in_stream and rest[-1].sentence_index == 1
    total = len(first.chunk.audio) + sum(len(c.audio) for c in rest)
    assert total == 2 * samples_for(text)


async def test_one_sentence_in_flight_runs_sentences_one_at_a_time(
    start_gateway, fake_stages
) -> None:
    """With sentences_in_flight=1 the next sentence waits for the previous one."""
    gate = fake_stages.acoustic.gates["你好"] = asyncio.Event()
    gateway = await start_gateway(sentences_in_flight=1)
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text="你好世界。今天天气很好。"), timeout=TIMEOUT_S
    )
    await call.read()  # header
    await call.read()  # first chunk of sentence 0, which now blocks
    await asyncio.sleep(0.2)
    assert fake_stages.acoustic.seen.started == ["你好世界"]
    gate.set()
    assert (await read_rest(call))[-1].chunk.last_in_stream


async def test_request_id_is_echoed_and_passed_downstream(
    start_gateway, fake_stages
) -> None:
    """The request's id wins; it comes back in the response, the header and the
    trailing metadata, and every stage receives it as x-request-id."""
    gateway = await start_gateway()
    call = gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="你好。", request_id="req-42"), timeout=TIMEOUT_S
    )
    response = await call
    assert response.request_id == "req-42"
    assert ("x-request-id", "req-42") in tuple(await call.trailing_metadata())
    header, _ = await _stream(gateway.stub, text="你好。", request_id="req-43")
    assert header.request_id == "req-43"
    for seen in (
        fake_stages.frontend.seen,
        fake_stages.acoustic.seen,
        fake_stages.vocoder.seen,
    ):
        assert seen.request_ids == ["req-42", "req-43"]


async def test_request_id_from_metadata_or_minted(start_gateway) -> None:
    """Without a request_id field the x-request-id metadata is used, else a new id."""
    gateway = await start_gateway()
    response = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="你好。"),
        metadata=(("x-request-id", "from-metadata"),),
        timeout=TIMEOUT_S,
    )
    assert response.request_id == "from-metadata"
    minted = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="你好。"), timeout=TIMEOUT_S
    )
    assert len(minted.request_id) == 32


async def test_speed_volume_and_break_reach_the_right_place(
    start_gateway, fake_stages
) -> None:
    """Speed goes to the acoustic stage, gain scales the audio at the edge, and the
    frontend's break is silence after each sentence, counted in its duration."""
    gateway = await start_gateway()
    loud = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="你好。"), timeout=TIMEOUT_S
    )
    fake_stages.frontend.break_after_ms = 50
    quiet = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="你好。", volume_gain_db=-6.0, speed=1.5),
        timeout=TIMEOUT_S,
    )
    assert [r.speed for r in fake_stages.acoustic.requests] == [1.0, 1.5]
    pause = RATE * 50 // 1000
    assert quiet.num_samples == loud.num_samples + pause
    assert not _pcm(quiet.audio)[-pause:].any()
    assert quiet.sentences[0].duration_ms == loud.sentences[0].duration_ms + 50
    ratio = np.abs(_pcm(quiet.audio)).max() / np.abs(_pcm(loud.audio)).max()
    assert abs(ratio - 10 ** (-6 / 20)) < 0.01


async def test_list_voices_and_empty_cache_report(start_gateway) -> None:
    """ListVoices shows what the stages serve; the cache report is zero for now."""
    gateway = await start_gateway()
    voices = await gateway.stub.ListVoices(gw.ListVoicesRequest(), timeout=TIMEOUT_S)
    assert voices.default_voice == "zhitian_emo"
    assert [v.name for v in voices.voices] == ["zhitian_emo", "zhiyan_emo"]
    first = voices.voices[0]
    assert list(first.emotions) == ["happy", "sad"] and list(first.speakers) == ["F7"]
    assert first.sample_rate_hz == RATE and first.revisions.vocoder == "voc-rev"
    await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="你好。"), timeout=TIMEOUT_S
    )
    report = await gateway.stub.GetCacheReport(
        gw.GetCacheReportRequest(), timeout=TIMEOUT_S
    )
    assert report.overall.requests == 0 and report.overall.hit_rate == 0.0
    started = gateway.app.counters.counting_since
    assert abs(report.counting_since.ToNanoseconds() / 1e9 - started) < 1e-3


async def test_gateway_health_waits_for_the_stages(fake_stages, start_gateway) -> None:
    """Warm-up fails (so the gateway never reports SERVING) when a stage is down."""
    await fake_stages.servers[1].health.mark_not_serving()
    with pytest.raises(TimeoutError, match="acoustic"):
        await start_gateway(startup_timeout_s=0.3)
