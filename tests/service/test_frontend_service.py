"""FrontendService in process with the real frontend: sentences, limits, voices."""

from __future__ import annotations

import asyncio
import json
import math
import signal
from pathlib import Path
from typing import Any

import grpc
import pytest

from frontend_svc.config import FrontendConfig, frontend_revision
from frontend_svc.servicer import FrontendServicer
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import frontend_service_pb2 as pb
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as pb_grpc
from tests.golden import GOLDEN, copy_fixture
from tests.service.conftest import StartServer, wait_serving
from tests.service.runtime_helpers import TIMEOUT_S, free_port
from tts_common.config import ConfigError
from tts_common.executor import BoundedExecutor
from tts_common.pauses import SENTENCE_PAUSE_MS
from tts_common.symbols import parse_symbols

TEXT = "今天天气很好。我们明天去公园玩！"
VOICE = "testvoice_emo"


@pytest.fixture(scope="module")
def frontend() -> Any:
    """One real frontend (building it loads dictionaries: about a second)."""
    from frontend_svc import Frontend

    return Frontend()


async def _serve(
    start_server: StartServer,
    frontend: Any,
    *,
    max_text_chars: int = 5000,
    voices: Any = (),
) -> pb_grpc.FrontendServiceStub:
    servicer = FrontendServicer(
        [frontend],
        BoundedExecutor(1, 4),
        revision="rev-1",
        max_text_chars=max_text_chars,
        voices=voices,
    )
    return pb_grpc.FrontendServiceStub(await start_server(servicer.register))


async def test_sentences_come_back_with_symbols(
    start_server: StartServer, frontend: Any
) -> None:
    """Two sentences, in order, exactly as ``Frontend.analyze`` makes them."""
    stub = await _serve(start_server, frontend)
    reply = await stub.Analyze(
        pb.AnalyzeRequest(text=TEXT, voice="v1"), timeout=TIMEOUT_S
    )
    want = frontend.analyze(TEXT)
    assert (reply.voice, reply.revision) == ("v1", "rev-1")
    assert [s.index for s in reply.sentences] == [0, 1]
    assert [s.normalized_text for s in reply.sentences] == [w.text for w in want]
    assert [s.symbols for s in reply.sentences] == [w.symbols for w in want]
    assert reply.sentences[0].normalized_text.startswith("今天天气很好")
    for sentence in reply.sentences:
        tokens = parse_symbols(sentence.symbols)
        assert tokens[-1].phone == "#4"
        assert (sentence.emotion, sentence.speaker) == ("", "")  # defaults used
        assert sentence.extras.speed == 1.0
    # A sentence pause after every sentence but the last.
    pauses = [s.extras.break_after_ms for s in reply.sentences]
    assert pauses == [SENTENCE_PAUSE_MS] * (len(pauses) - 1) + [0]


async def test_emotion_speaker_and_ssml_extras(
    start_server: StartServer, frontend: Any
) -> None:
    """Emotion and speaker reach the symbols; SSML break/rate/volume become extras."""
    stub = await _serve(start_server, frontend)
    reply = await stub.Analyze(
        pb.AnalyzeRequest(text=TEXT, emotion="happy", speaker="F8")
    )
    first = reply.sentences[0]
    assert (first.emotion, first.speaker) == ("happy", "F8")
    assert {(t.emotion, t.speaker) for t in parse_symbols(first.symbols)} == {
        ("emotion_happy", "F8")
    }
    ssml = (
        '<speak>你好<break time="300ms"/>世界'
        '<prosody rate="fast" volume="loud">快一点</prosody></speak>'
    )
    reply = await stub.Analyze(pb.AnalyzeRequest(text=ssml, ssml=True))
    extras = [s.extras for s in reply.sentences]
    assert [e.break_after_ms for e in extras] == [300, 0, 0]  # no mark ends 世界
    sentences = frontend.analyze(ssml)
    assert [e.speed for e in extras] == pytest.approx([s.rate for s in sentences])
    assert extras[2].volume_gain_db == pytest.approx(
        20 * math.log10(sentences[2].volume)
    )
    assert extras[2].speed > 1 and extras[2].volume_gain_db > 0


async def test_lexicon_changes_the_symbols(
    start_server: StartServer, frontend: Any
) -> None:
    """A request lexicon entry overrides the reading for that request only."""
    stub = await _serve(start_server, frontend)
    text = "重庆很大。"
    plain = await stub.Analyze(pb.AnalyzeRequest(text=text), timeout=TIMEOUT_S)
    entry = audio_pb2.LexiconEntry(word="重庆", pronunciation="zhong4 qing4")
    reply = await stub.Analyze(
        pb.AnalyzeRequest(text=text, lexicon=[entry]), timeout=TIMEOUT_S
    )
    [got], [before] = reply.sentences, plain.sentences
    assert (
        got.symbols
        == frontend.analyze(text, lexicon={"重庆": "zhong4 qing4"})[0].symbols
    )
    assert got.symbols != before.symbols
    first = parse_symbols(got.symbols)[0]
    assert (first.phone, first.tone) == ("zh_c", "tone4")
    assert parse_symbols(before.symbols)[0].phone == "ch_c"
    again = await stub.Analyze(pb.AnalyzeRequest(text=text), timeout=TIMEOUT_S)
    assert again.sentences[0].symbols == before.symbols  # not kept after the call


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ([("重庆", "zhong4")], "lexicon[0] ('重庆'): lexicon reading 'zhong4'"),
        (
            [("重庆", "zhong4 qing4"), ("长城", "chang2 cheng")],
            "lexicon[1] ('长城')",
        ),
        ([("NBA", "en1 bi4 ei1")], "lexicon[0] ('NBA'): lexicon word 'NBA' must be"),
        ([("重庆", "zhong4 qing4")] * 2, "lexicon[1] repeats the word '重庆'"),
        ([("重", "zhong4")] * 101, "lexicon has 101 entries; at most 100"),
    ],
)
async def test_bad_lexicon_is_rejected(
    start_server: StartServer,
    frontend: Any,
    entries: list[tuple[str, str]],
    fragment: str,
) -> None:
    """Malformed, repeated or too many entries: INVALID_ARGUMENT naming the entry."""
    stub = await _serve(start_server, frontend)
    lexicon = [audio_pb2.LexiconEntry(word=w, pronunciation=p) for w, p in entries]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Analyze(
            pb.AnalyzeRequest(text=TEXT, lexicon=lexicon), timeout=TIMEOUT_S
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in info.value.details()


async def test_words_marks_pitch_and_emphasis_on_the_wire(
    start_server: StartServer, frontend: Any
) -> None:
    """Word spans and marks travel as the frontend made them; pitch and emphasis
    become extras."""
    stub = await _serve(start_server, frontend)
    ssml = (
        '<speak>今天<mark name="m1"/>天气很好。<prosody pitch="+2st">'
        '<emphasis level="strong">NBA</emphasis></prosody><mark name="end"/></speak>'
    )
    reply = await stub.Analyze(pb.AnalyzeRequest(text=ssml, ssml=True))
    want = frontend.analyze(ssml)
    assert len(reply.sentences) == len(want) == 2
    for got, made in zip(reply.sentences, want, strict=True):
        assert [(w.text, w.first_symbol, w.num_symbols) for w in got.words] == [
            tuple(w) for w in made.words
        ]
        assert [(m.name, m.symbol_index) for m in got.marks] == [
            tuple(m) for m in made.marks
        ]
    first, second = reply.sentences
    assert [w.text for w in first.words] == ["今天天气", "很", "好"]  # jieba's words
    # m1 stands inside the word 今天天气, before the syllable of 天 (symbol 4)
    assert [(m.name, m.symbol_index) for m in first.marks] == [("m1", 4)]
    assert [(m.name, m.symbol_index) for m in second.marks] == [
        ("end", len(second.symbols.split()))
    ]
    assert (first.extras.pitch_semitones, first.extras.energy_shift) == (0.0, 0.0)
    assert second.extras.pitch_semitones == pytest.approx(2.0)
    assert second.extras.energy_shift == pytest.approx(0.6)
    assert second.extras.speed == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("request_fields", "code", "fragment"),
    [
        ({"text": ""}, grpc.StatusCode.INVALID_ARGUMENT, "text is empty; send 1 to 50"),
        ({"text": "  \n"}, grpc.StatusCode.INVALID_ARGUMENT, "text is empty"),
        (
            {"text": "好" * 51},
            grpc.StatusCode.INVALID_ARGUMENT,
            "51 characters; the limit is 50",
        ),
        ({"text": "？！……"}, grpc.StatusCode.INVALID_ARGUMENT, "nothing to speak"),
        (
            {"text": TEXT, "emotion": "ecstatic"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "unknown emotion",
        ),
        (
            {"text": TEXT, "ssml": True},
            grpc.StatusCode.INVALID_ARGUMENT,
            "no <speak> root",
        ),
        (
            {"text": "<speak>你好</speak>"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "set ssml to true",
        ),
        (
            {"text": "<speak>你好", "ssml": True},
            grpc.StatusCode.INVALID_ARGUMENT,
            "malformed SSML",
        ),
    ],
)
async def test_bad_text_is_rejected(
    start_server: StartServer,
    frontend: Any,
    request_fields: dict[str, Any],
    code: grpc.StatusCode,
    fragment: str,
) -> None:
    """Empty, too long, unspeakable or malformed input: INVALID_ARGUMENT saying why."""
    stub = await _serve(start_server, frontend, max_text_chars=50)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Analyze(pb.AnalyzeRequest(**request_fields), timeout=TIMEOUT_S)
    assert info.value.code() == code
    assert fragment in info.value.details()


async def test_voices_from_model_dir(
    start_server: StartServer, frontend: Any, tmp_path: Path
) -> None:
    """With a model dir: default voice resolved, unknown voice NOT_FOUND, the
    emotions and speakers of voice_info.json enforced and listed."""
    model_dir = copy_fixture(tmp_path)
    info = {"emotions": ["happy", "sad"], "speakers": ["F7"]}
    (model_dir / "voices" / VOICE / "voice_info.json").write_text(json.dumps(info))
    voices = FrontendConfig(model_dir=str(model_dir)).voice_infos("rev-1")
    stub = await _serve(start_server, frontend, voices=voices)
    reply = await stub.Analyze(pb.AnalyzeRequest(text=TEXT, emotion="sad"))
    assert reply.voice == VOICE and reply.sentences[0].emotion == "sad"
    for request, code, fragment in [
        (
            pb.AnalyzeRequest(text=TEXT, voice="nobody"),
            grpc.StatusCode.NOT_FOUND,
            "available: " + VOICE,
        ),
        (
            pb.AnalyzeRequest(text=TEXT, emotion="angry"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "no emotion 'angry'",
        ),
        (
            pb.AnalyzeRequest(text=TEXT, speaker="F8"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "no speaker 'F8'",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.Analyze(request)
        assert error.value.code() == code and fragment in error.value.details()
    model_info = await stub.GetModelInfo(pb.FrontendServiceGetModelInfoRequest())
    assert (model_info.revision, model_info.max_text_chars) == ("rev-1", 5000)
    [voice] = model_info.voices
    assert (voice.name, voice.revision) == (VOICE, "rev-1")
    assert (list(voice.emotions), list(voice.speakers)) == (["happy", "sad"], ["F7"])


def test_revision_follows_the_lexicon(tmp_path: Path) -> None:
    """The revision is stable, SHA-256 hex, and changes with the deployment lexicon."""
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("重庆\tchong2 qing4\n", encoding="utf-8")
    plain = frontend_revision()
    assert plain == frontend_revision() and len(plain) == 64
    with_lexicon = frontend_revision(str(lexicon))
    assert with_lexicon != plain
    lexicon.write_text("重庆\tzhong4 qing4\n", encoding="utf-8")
    assert frontend_revision(str(lexicon)) != with_lexicon


def test_config_from_env() -> None:
    """Nothing is required; limits parse and are checked."""
    cfg = FrontendConfig.from_env({})
    assert (cfg.model_dir, cfg.max_text_chars, cfg.server.port) == (None, 5000, 50052)
    cfg = FrontendConfig.from_env(
        {
            "FRONTEND_MAX_TEXT_CHARS": "100",
            "FRONTEND_MODEL_DIR": "/m",
            "FRONTEND_VOICES": "a",
        }
    )
    assert (cfg.max_text_chars, cfg.voices) == (100, ("a",))
    with pytest.raises(ConfigError, match="FRONTEND_MAX_TEXT_CHARS"):
        FrontendConfig.from_env({"FRONTEND_MAX_TEXT_CHARS": "0"})
    with pytest.raises(ConfigError, match="FRONTEND_MODEL_DIR"):
        FrontendConfig.from_env({"FRONTEND_VOICES": "a"})


async def test_main_warms_up_serves_and_drains(launch: Any) -> None:
    """``python -m frontend_svc`` warms up, reports SERVING, analyzes, exits 0."""
    port, model_dir = free_port(), GOLDEN / "small_causal"
    env = {"PORT": port, "METRICS_PORT": 0, "MODEL_DIR": model_dir}
    child = launch("frontend_svc", {f"FRONTEND_{k}": str(v) for k, v in env.items()})
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await wait_serving(channel)
        stub = pb_grpc.FrontendServiceStub(channel)
        reply = await stub.Analyze(pb.AnalyzeRequest(text=TEXT), timeout=TIMEOUT_S)
        assert len(reply.sentences) == 2 and reply.voice == VOICE
        assert reply.revision == frontend_revision()
    child.send_signal(signal.SIGTERM)
    out, _ = await asyncio.to_thread(child.communicate, timeout=30)
    assert child.returncode == 0, out
    # Health turns SERVING only after the warm-up analysis.
    assert out.index("warmed up") < out.index('"msg": "serving"')
