"""The bridge's OpenAI drop-in features over sockets, in front of an in-process
gateway with fake stages (quick; tests/integration/test_openai_compat.py runs the
official SDK against the real stack)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf

from tests.service.hostile_stack import HostileStack

_TEXT = "今天天气很好。我们去公园吧。"


async def _post(stack: HostileStack, **body: Any) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.post(
        stack.http_url + "/v1/audio/speech", json=body
    ) as reply:  # fmt: skip
        return reply.status, dict(reply.headers), await reply.read()


def _events(data: bytes) -> list[dict[str, Any]]:
    """The JSON of each ``data:`` event; every event is one such line."""
    blocks = data.decode().split("\n\n")
    assert blocks[-1] == "", "the stream ends with a blank line"
    events = []
    for block in blocks[:-1]:
        assert block.startswith("data: ") and "\n" not in block, block[:80]
        events.append(json.loads(block[len("data: ") :]))
    return events


def _audio(events: list[dict[str, Any]]) -> bytes:
    *deltas, done = events
    assert {e["type"] for e in deltas} == {"speech.audio.delta"}
    assert all(set(e) == {"type", "audio"} for e in deltas)
    assert done["type"] == "speech.audio.done" and set(done) == {"type", "usage"}
    return b"".join(base64.b64decode(e["audio"]) for e in deltas)


async def test_sse_carries_the_same_audio_as_the_plain_stream(
    hostile_stack: HostileStack,
) -> None:
    body = {"input": _TEXT, "voice": "zhitian_emo", "response_format": "pcm"}
    status, _, plain = await _post(hostile_stack, **body)
    assert status == 200
    status, headers, data = await _post(hostile_stack, **body, stream_format="sse")
    assert status == 200, data[:300]
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["X-Audio-Content-Type"] == "audio/pcm"
    assert headers["X-Speed-Applied"] == "1"
    events = _events(data)
    assert len(events) > 2  # several deltas, as the sentences are made
    assert _audio(events) == plain
    usage = events[-1]["usage"]
    assert usage["input_tokens"] == len(_TEXT)
    # output_tokens: milliseconds of audio (24 kHz 16-bit here), to a few ms.
    assert abs(usage["output_tokens"] - len(plain) / 48) <= 5
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


async def test_sse_wav_is_one_complete_file(hostile_stack: HostileStack) -> None:
    body = {"input": _TEXT, "voice": "zhitian_emo", "stream_format": "sse"}
    status, _, data = await _post(hostile_stack, **body, response_format="wav")
    assert status == 200, data[:300]
    audio, rate = sf.read(io.BytesIO(_audio(_events(data))), dtype="int16")
    _, _, plain = await _post(hostile_stack, **body, response_format="pcm")
    pcm = np.frombuffer(b"".join(map(base64.b64decode, [
        e["audio"] for e in _events(plain)[:-1]
    ])), "<i2")  # fmt: skip
    assert rate == 16000 and abs(audio.size * 1.5 - pcm.size) <= 3


async def test_aliases_instructions_and_speed_headers(
    hostile_stack: HostileStack,
) -> None:
    status, headers, _ = await _post(
        hostile_stack, input=_TEXT, voice={"id": "alloy"}, speed=0.25,
        response_format="pcm", instructions="Speak in a cheerful tone",
    )  # fmt: skip
    assert status == 200
    assert headers["X-Speed-Applied"] == "0.5"
    # alloy is the default voice (zhitian_emo here), which has happy.
    assert headers["X-Instructions-Ignored"] == "false"
    assert headers["X-Emotion-Applied"] == "happy"
    status, headers, _ = await _post(
        hostile_stack, input=_TEXT, voice="zhitian_emo", speed=4,
        response_format="pcm", instructions="用开心的语气",
    )  # fmt: skip
    assert status == 200
    assert headers["X-Speed-Applied"] == "2"
    assert headers["X-Instructions-Ignored"] == "false"
    assert headers["X-Emotion-Applied"] == "happy"
    status, headers, _ = await _post(
        hostile_stack, input=_TEXT, voice="zhiyan_emo", response_format="pcm",
        instructions="用开心的语气",
    )  # fmt: skip
    assert status == 200 and headers["X-Instructions-Ignored"] == "true"
    assert "X-Emotion-Applied" not in headers


async def test_unknown_voice_lists_voices_and_aliases(
    hostile_stack: HostileStack,
) -> None:
    status, _, data = await _post(hostile_stack, input=_TEXT, voice="nobody")
    error = json.loads(data)["error"]
    assert status == 404 and error["code"] == "not_found"
    assert (
        "available voices: zhitian_emo, zhiyan_emo; or an alias: alloy"
        in (error["message"])
    )


async def test_models(hostile_stack: HostileStack) -> None:
    models = hostile_stack.http_url + "/v1/models"
    async with aiohttp.ClientSession() as session:
        async with session.get(models) as reply:
            listed = await reply.json()
        async with session.get(models + "/tts-1-hd") as reply:
            one = await reply.json()
        async with session.get(models + "/whisper-1") as reply:
            missing = reply.status, await reply.json()
    assert listed["object"] == "list"
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= {m["id"] for m in listed["data"]}
    assert one["id"] == "tts-1-hd" and one["object"] == "model"
    assert missing[0] == 404 and missing[1]["error"]["code"] == "model_not_found"


async def test_a_failure_after_the_first_audio_ends_sse_with_an_error_event(
    hostile_stack: HostileStack,
) -> None:
    """Headers are gone by then: the stream ends cleanly with OpenAI's error object
    as an ``error`` event (the SDK raises on it), not with a cut connection."""
    acoustic = hostile_stack.acoustic
    gate = acoustic.gates[""] = asyncio.Event()  # every sentence waits ...
    acoustic.failures[""] = grpc.StatusCode.INVALID_ARGUMENT  # ... then fails
    body = {"input": _TEXT, "voice": "zhitian_emo", "response_format": "pcm",
            "stream_format": "sse"}  # fmt: skip
    async with aiohttp.ClientSession() as session, session.post(
        hostile_stack.http_url + "/v1/audio/speech", json=body
    ) as reply:  # fmt: skip
        assert reply.status == 200  # the gateway's header came: audio follows
        gate.set()
        events = _events(await reply.read())
    *deltas, last = events  # the gateway sends its header just before audio
    assert all(e["type"] == "speech.audio.delta" for e in deltas)
    assert last["type"] == "error" and set(last) == {"type", "error"}
    assert set(last["error"]) == {"message", "type", "code"}


# --- timings, pitch, lexicon (our extensions) --------------------------------------

_PCM_BYTES_PER_MS = 48  # 24 kHz 16-bit mono


def _split(events: list[dict[str, Any]]) -> tuple[bytes, list[dict[str, Any]]]:
    """The audio of the delta events, and the timings events with how many audio
    bytes came before each."""
    audio, timings = b"", []
    for event in events[:-1]:
        if event["type"] == "speech.timings":
            timings.append({**event, "audio_before": len(audio)})
        else:
            assert event["type"] == "speech.audio.delta", event["type"]
            audio += base64.b64decode(event["audio"])
    assert events[-1]["type"] == "speech.audio.done"
    return audio, timings


async def test_sse_timings_follow_each_sentence_and_add_up_to_the_audio(
    hostile_stack: HostileStack,
) -> None:
    """One ``speech.timings`` event per sentence, right after that sentence's last
    audio: the sentence spans tile the audio (each starts where the one before
    ended plus its break) and the durations add up to the audio's length."""
    body = {"input": _TEXT, "voice": "zhitian_emo", "response_format": "pcm",
            "stream_format": "sse"}  # fmt: skip
    status, _, data = await _post(hostile_stack, **body, timings=True)
    assert status == 200, data[:300]
    audio, timings = _split(_events(data))
    _, _, plain = await _post(hostile_stack, **body)
    assert audio == _audio(_events(plain))  # timings change nothing in the audio
    assert [t["index"] for t in timings] == [0, 1]  # two sentences
    ends_ms = 0
    for t in timings:
        assert set(t) == {"type", "index", "duration_ms", "sentence", "words",
                          "phones", "marks", "audio_before"}  # fmt: skip
        span = t["sentence"]
        assert span["text"] and span["start_s"] < span["end_s"]
        assert span["start_s"] == pytest.approx(ends_ms / 1000, abs=0.001)
        assert span["end_s"] <= (ends_ms + t["duration_ms"]) / 1000 + 0.001
        ends_ms += t["duration_ms"]
        # Sent after the sentence's spoken audio and before the next sentence's
        # (the 16 -> 24 kHz resampler may still hold a few ms of its break).
        assert span["end_s"] * 1000 * _PCM_BYTES_PER_MS <= t["audio_before"]
        assert t["audio_before"] <= ends_ms * _PCM_BYTES_PER_MS
    assert len(audio) / _PCM_BYTES_PER_MS == pytest.approx(ends_ms, abs=2)


async def test_sse_timings_of_a_whole_file_come_after_its_audio(
    hostile_stack: HostileStack,
) -> None:
    body = {"input": _TEXT, "voice": "zhitian_emo", "response_format": "wav",
            "stream_format": "sse", "timings": True}  # fmt: skip
    status, _, data = await _post(hostile_stack, **body)
    assert status == 200, data[:300]
    audio, timings = _split(_events(data))
    samples, rate = sf.read(io.BytesIO(audio), dtype="int16")
    assert [t["index"] for t in timings] == [0, 1]
    assert all(t["audio_before"] == len(audio) for t in timings)
    total_ms = sum(t["duration_ms"] for t in timings)
    assert samples.size / rate * 1000 == pytest.approx(total_ms, abs=1)


async def test_timings_without_sse_are_refused(hostile_stack: HostileStack) -> None:
    status, _, data = await _post(hostile_stack, input=_TEXT, timings=True)
    error = json.loads(data)["error"]
    assert status == 400 and error["code"] == "timings_need_sse"
    assert 'stream_format "sse"' in error["message"]


async def test_the_sdk_s_stream_reader_takes_the_timings_events(
    hostile_stack: HostileStack,
) -> None:
    """The official SDK's SSE reader (``AsyncStream``, what its streaming calls
    use) yields every event, ours included, without raising."""
    import openai

    client = openai.AsyncOpenAI(
        base_url=hostile_stack.http_url + "/v1", api_key="unused"
    )
    stream = await client.post(
        "/audio/speech", cast_to=object, stream=True,
        stream_cls=openai.AsyncStream[object],
        body={"model": "tts-1", "input": _TEXT, "voice": "alloy",
              "response_format": "pcm", "stream_format": "sse", "timings": True},
    )  # fmt: skip
    types = [event["type"] async for event in stream]  # type: ignore[index]
    await client.close()
    assert types.count("speech.timings") == 2
    assert types[-1] == "speech.audio.done" and "speech.audio.delta" in types


async def test_pitch_and_lexicon_reach_the_stages(hostile_stack: HostileStack) -> None:
    """``pitch_semitones`` reaches the acoustic stage; ``lexicon`` the frontend
    (its reading changes the symbols, and a bad reading is its 400)."""
    body = {"input": "我们好。", "voice": "zhitian_emo", "response_format": "pcm"}
    status, _, _ = await _post(hostile_stack, **body, pitch_semitones=-3.5)
    assert status == 200
    assert hostile_stack.acoustic.requests[-1].pitch_semitones == -3.5
    assert hostile_stack.acoustic.requests[-1].symbols.startswith("{w_c$")
    status, _, _ = await _post(hostile_stack, **body, lexicon={"我们": "ta1 men5"})
    assert status == 200
    assert hostile_stack.acoustic.requests[-1].symbols.startswith("{t_c$")  # 他们
    status, _, data = await _post(
        hostile_stack, **body, lexicon=[{"word": "我们", "pronunciation": "wo3"}]
    )
    error = json.loads(data)["error"]
    assert status == 400 and error["code"] == "invalid_argument"
    assert "lexicon[0]" in error["message"]
    status, _, data = await _post(hostile_stack, **body, pitch_semitones=12.5)
    error = json.loads(data)["error"]
    assert status == 400 and error["code"] == "invalid_pitch_semitones"
    assert "use -12 to 12" in error["message"]
