"""Sentence timings through the gateway on fake stages: they add up to the audio,
survive resampling and come back the same from the cache."""

from __future__ import annotations

import pytest

from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.fake_stages import HOP, RATE, frames_for
from tests.service.test_gateway_cache import cached_gateway, stream, unary

# The Redis fixtures of the cache tests, shared (one redis-server per module).
redis_server = _shared.redis_server
rdb = _shared.rdb

TEXT = "你好世界。今天天气很好。再见。"
BREAK_MS = 250


def _spans(infos: list[gw.SentenceInfo]) -> list[float]:
    """Start and end of each sentence, flattened."""
    return [
        t for i in infos for t in (i.timings.sentence.start_s, i.timings.sentence.end_s)
    ]


def _expected(text: str) -> list[float]:
    """Each sentence's span: its frames, after the earlier sentences and breaks."""
    out, start = [], 0.0
    for sentence in text.split("。")[:-1]:
        length = frames_for(sentence) * HOP / RATE
        out += [start, start + length]
        start += length + BREAK_MS / 1000
    return out


async def test_unary_timings_add_up_to_the_audio(start_gateway, fake_stages) -> None:
    fake_stages.frontend.break_after_ms = BREAK_MS
    gateway = await start_gateway()
    reply = await unary(gateway.stub, TEXT, enable_timings=True)
    spans = _spans(list(reply.sentences))
    assert spans == pytest.approx(_expected(TEXT), abs=1e-9)
    # The last sentence's end plus its break is the end of the audio.
    assert spans[-1] + BREAK_MS / 1000 == pytest.approx(reply.num_samples / RATE)
    for info in reply.sentences:
        phones = info.timings.phones
        assert [p.text for p in phones] == [info.normalized_text]  # one fake symbol
        assert [phones[0].start_s, phones[-1].end_s] == _spans([info])
    plain = await unary(gateway.stub, TEXT)
    assert not any(i.HasField("timings") for i in plain.sentences)


async def test_timings_are_in_seconds_whatever_the_output_rate(
    start_gateway, fake_stages
) -> None:
    fake_stages.frontend.break_after_ms = BREAK_MS
    gateway = await start_gateway()
    native = await unary(gateway.stub, TEXT, enable_timings=True)
    resampled = await unary(
        gateway.stub, TEXT, enable_timings=True, sample_rate_hz=8000,
        encoding=audio_pb2.AUDIO_ENCODING_WAV,
    )  # fmt: skip
    assert _spans(list(resampled.sentences)) == _spans(list(native.sentences))
    assert resampled.duration_ms == native.duration_ms


async def test_streamed_and_cached_timings_match_the_first(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    fake_stages.frontend.break_after_ms = BREAK_MS
    gateway = await start_gateway(**cached_gateway(redis_server))
    first = await unary(gateway.stub, TEXT, enable_timings=True)
    calls = fake_stages.acoustic.seen.calls
    again = await unary(gateway.stub, TEXT, enable_timings=True)
    assert fake_stages.acoustic.seen.calls == calls  # all from the cache
    assert [s.cached for s in again.sentences] == [True] * 3
    assert _spans(list(again.sentences)) == _spans(list(first.sentences))
    chunks = await stream(gateway.stub, TEXT, enable_timings=True)
    infos = [c.sentence for c in chunks if c.last_in_sentence]
    assert _spans(infos) == _spans(list(first.sentences))
