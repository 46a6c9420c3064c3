"""The official ``openai`` SDK against the HTTP bridge in front of the real stack
(real processes, sockets, Redis and the small golden voice): voice aliases, the
``{"id": ...}`` voice form, ``stream_format="sse"``, ``/v1/models``, 4,096
characters, speeds 0.25 and 4.0, and ``instructions``."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
import soundfile as sf

from tests.golden import GOLDEN
from tests.integration.test_stack import TWO_SENTENCES
from tts_common.stack import LocalStack

pytestmark = pytest.mark.slow
VOICE = "testvoice_emo"
"""The golden voice: no voice_info.json, so every emotion id is offered."""
RATE = 16000
REPO = Path(__file__).resolve().parents[2]
SHORT = "你好。"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    env = {"HTTP_VOICE_ALIASES": f"nova={VOICE}:sad"}
    with LocalStack(
        GOLDEN / "small_causal", startup_timeout_s=240, http_port=0, env=env
    ) as s:
        yield s


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> openai.OpenAI:
    # The stack has no API keys: the SDK's key is sent and not checked.
    return openai.OpenAI(
        base_url=f"{stack.http_url}/v1", api_key="not-checked", max_retries=0,
        timeout=120,
    )  # fmt: skip


def _speak(client: openai.OpenAI, **kw: Any) -> tuple[dict[str, str], bytes]:
    """One speech call: the response headers (lower-case) and the audio."""
    body = {"model": "tts-1", "input": SHORT, "response_format": "pcm", **kw}
    raw = client.audio.speech.with_raw_response.create(**body)
    return {k.lower(): v for k, v in raw.headers.items()}, raw.content


def _pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2")


def test_aliases_and_the_voice_object_form(client: openai.OpenAI) -> None:
    """``alloy`` (unconfigured) is the default voice, neutral; ``nova`` is
    configured as the golden voice, sad; ``{"id": ...}`` means the same."""
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input=SHORT, response_format="wav"
    )
    audio, rate = sf.read(io.BytesIO(speech.content), dtype="int16")
    assert rate == RATE and audio.size > RATE // 10
    headers, neutral = _speak(client, voice="alloy")
    assert "x-emotion-applied" not in headers
    _, named = _speak(client, voice=VOICE)
    assert named == neutral  # alloy is the default voice, neutral
    headers, sad = _speak(client, voice="nova")
    assert headers["x-emotion-applied"] == "sad"
    headers, sad_by_id = _speak(client, voice={"id": "nova"})
    assert headers["x-emotion-applied"] == "sad" and sad_by_id == sad
    assert sad != neutral  # the emotion reached the acoustic model
    with pytest.raises(openai.NotFoundError) as err:
        _speak(client, voice={"id": "nobody"})
    message = err.value.body["message"]  # type: ignore[index]
    assert f"available voices: {VOICE}; or an alias: alloy, ash" in message


def test_sse_streams_openai_events(client: openai.OpenAI) -> None:
    """``speech.audio.delta`` events with base64 audio, then ``speech.audio.done``
    with usage; the audio is what the plain stream carries."""
    _, plain = _speak(client, voice=VOICE, input=TWO_SENTENCES)
    events = []
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice=VOICE, input=TWO_SENTENCES,
        response_format="pcm", stream_format="sse",
    ) as response:  # fmt: skip
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: "), line[:80]
                events.append(json.loads(line[len("data: ") :]))
    *deltas, done = events
    assert deltas and all(e["type"] == "speech.audio.delta" for e in deltas)
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert audio == plain
    assert done["type"] == "speech.audio.done"
    usage = done["usage"]
    assert usage["input_tokens"] == len(TWO_SENTENCES)
    assert abs(usage["output_tokens"] - len(plain) / 48) <= 5  # ms of 24 kHz audio
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= ids
    assert client.models.retrieve("tts-1-hd").owned_by == "sambert-tts"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("whisper-1")
    with pytest.raises(openai.NotFoundError):
        _speak(client, model="whisper-1", voice=VOICE)


def test_4096_characters_are_taken_and_4097_refused(client: openai.OpenAI) -> None:
    """4,096 characters of real prose pass every check (length, then the audio
    estimate after the analysis: ~2,000 s, over the old 1,800 s limit) and audio
    starts; the test hangs up after the first bytes rather than wait for minutes of
    audio. One more character is refused before any synthesis, saying why."""
    text = ((REPO / "ttsctl" / "bench_paragraph.txt").read_text().strip() * 3)[:4096]
    assert len(text) == 4096
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice=VOICE, input=text, response_format="pcm"
    ) as response:
        assert response.status_code == 200
        assert next(response.iter_bytes())  # first audio, then hang up
    with pytest.raises(openai.BadRequestError) as err:
        _speak(client, voice=VOICE, input=text + "。")
    message = err.value.body["message"]  # type: ignore[index]
    assert "input has 4097 characters, over the limit of 4096" in message


def test_speeds_0_25_and_4_are_clamped_and_reported(client: openai.OpenAI) -> None:
    slow_headers, slow = _speak(client, voice=VOICE, input=TWO_SENTENCES, speed=0.25)
    fast_headers, fast = _speak(client, voice=VOICE, input=TWO_SENTENCES, speed=4.0)
    _, half = _speak(client, voice=VOICE, input=TWO_SENTENCES, speed=0.5)
    assert slow_headers["x-speed-applied"] == "0.5" and slow == half
    assert fast_headers["x-speed-applied"] == "2"
    assert len(slow) > 2.5 * len(fast)  # 4x the speech; breaks do not scale
    with pytest.raises(openai.BadRequestError) as err:
        _speak(client, voice=VOICE, speed=4.5)
    assert "use 0.25 to 4.0" in err.value.body["message"]  # type: ignore[index]


def test_instructions_set_the_emotion_or_are_reported_ignored(
    client: openai.OpenAI,
) -> None:
    headers, happy = _speak(
        client, model="gpt-4o-mini-tts", voice=VOICE,
        instructions="Speak in a happy, upbeat tone.",
    )  # fmt: skip
    assert headers["x-instructions-ignored"] == "false"
    assert headers["x-emotion-applied"] == "happy"
    _, by_field = _speak(client, voice=VOICE, extra_body={"emotion": "happy"})
    assert happy == by_field
    headers, pirate = _speak(
        client, model="gpt-4o-mini-tts", voice=VOICE, instructions="Talk like a pirate"
    )
    assert headers["x-instructions-ignored"] == "true"
    assert pirate == _speak(client, voice=VOICE)[1]
    headers, _ = _speak(client, voice="nova", instructions="用生气的语气说")
    assert headers["x-emotion-applied"] == "angry"  # over the alias's sad
