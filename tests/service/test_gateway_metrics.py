"""The gateway's audio, character and real-time-factor series and its voice info,
through the real servicer in front of fake stages and a real Redis."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.fake_stages import VOICES
from tests.service.test_gateway_cache import cached_gateway, stream, unary

# The Redis fixtures of the cache tests, shared (one redis-server per module).
redis_server = _shared.redis_server
rdb = _shared.rdb

VOICE = "zhitian_emo"
"""The fake stages' default voice."""


def _value(gateway, name: str, **labels: str) -> float:
    value = gateway.app.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


def _totals(infos: Sequence[gw.SentenceInfo]) -> tuple[float, int]:
    """Audio seconds and characters of ``infos``, as the request reported them."""
    audio_s = sum(i.duration_ms for i in infos) / 1000
    return audio_s, sum(len(i.normalized_text) for i in infos)


async def test_audio_and_characters_split_by_cached_and_rtf_only_when_computed(
    start_gateway, redis_server, rdb
) -> None:
    """A miss counts as computed and gives an RTF; its repeat counts as cached and
    gives none; a half-cached stream counts each sentence where it came from and
    gives no RTF either."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    audio = "tts_audio_seconds_total"
    chars = "tts_characters_total"
    rtf = "tts_real_time_factor_count"

    first = await unary(gateway.stub, "一二三。四五六七。")
    audio_s, n = _totals(first.sentences)
    assert audio_s > 0 and n == len("一二三四五六七")  # the fake drops punctuation
    assert _value(gateway, audio, voice=VOICE, cached="false") == pytest.approx(audio_s)
    assert _value(gateway, chars, voice=VOICE, cached="false") == n
    assert _value(gateway, audio, voice=VOICE, cached="true") == 0
    assert _value(gateway, rtf, voice=VOICE) == 1
    rtf_sum = _value(gateway, "tts_real_time_factor_sum", voice=VOICE)
    assert 0 < rtf_sum < 60 / audio_s  # the call's own seconds over its audio

    again = await unary(gateway.stub, "一二三。四五六七。")
    assert all(i.cached for i in again.sentences)
    assert _value(gateway, audio, voice=VOICE, cached="true") == pytest.approx(audio_s)
    assert _value(gateway, chars, voice=VOICE, cached="true") == n
    assert _value(gateway, rtf, voice=VOICE) == 1  # cached: no RTF

    chunks = await stream(gateway.stub, "一二三。八九。")  # one cached, one new
    infos = [c.sentence for c in chunks if c.last_in_sentence]
    assert [i.cached for i in infos] == [True, False]
    cached_s, cached_n = _totals(infos[:1])
    new_s, new_n = _totals(infos[1:])
    assert _value(gateway, audio, voice=VOICE, cached="true") == pytest.approx(
        audio_s + cached_s
    )
    assert _value(gateway, audio, voice=VOICE, cached="false") == pytest.approx(
        audio_s + new_s
    )
    assert _value(gateway, chars, voice=VOICE, cached="false") == n + new_n
    assert _value(gateway, chars, voice=VOICE, cached="true") == n + cached_n
    assert _value(gateway, rtf, voice=VOICE) == 1  # partly cached: no RTF

    await stream(gateway.stub, "十一。", no_cache=True)
    assert _value(gateway, rtf, voice=VOICE) == 2


async def test_failed_requests_count_nothing(start_gateway, redis_server, rdb) -> None:
    gateway = await start_gateway(**cached_gateway(redis_server))
    with pytest.raises(Exception, match="emotion"):
        await unary(gateway.stub, "一二。", emotion="furious")
    assert _value(gateway, "tts_audio_seconds_total", voice=VOICE, cached="false") == 0
    assert _value(gateway, "tts_real_time_factor_count", voice=VOICE) == 0


async def test_voice_info_carries_every_stage_s_revision(start_gateway) -> None:
    """Read at warm-up (and at every catalog refresh); every voice's counters
    exist from the start at 0, so rate() works from the first request."""
    gateway = await start_gateway()
    for voice in VOICES:
        labels = {"voice": voice, "frontend_revision": "fe-rev",
                  "acoustic_revision": "am-rev", "vocoder_revision": "voc-rev"}  # fmt: skip
        assert _value(gateway, "tts_voice_info", **labels) == 1
        for cached in ("true", "false"):
            sample = gateway.app.metrics.registry.get_sample_value(
                "tts_audio_seconds_total", {"voice": voice, "cached": cached}
            )
            assert sample == 0
