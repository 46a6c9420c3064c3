"""AcousticService in process on the golden voices: streams, errors, load, cancel."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

import grpc
import numpy as np
import pytest

from acoustic_svc.batcher import build_batchers as build_decode_batchers
from acoustic_svc.config import AcousticConfig
from acoustic_svc.servicer import AcousticServicer
from sambert_tts_protos.v1 import acoustic_service_pb2 as pb
from sambert_tts_protos.v1 import acoustic_service_pb2_grpc as pb_grpc
from sambert_tts_protos.v1 import (
    audio_pb2,
    vocoder_service_pb2,
    vocoder_service_pb2_grpc,
)
from tests.golden import GOLDEN, golden_cases
from tests.service.conftest import StartServer, wait_serving
from tests.service.runtime_helpers import TIMEOUT_S, free_port, samples
from tts_common.audio import decode_mel
from tts_common.config import ConfigError
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics
from vocoder_svc.batcher import build_batchers
from vocoder_svc.servicer import VocoderServicer

VOICE = "testvoice_emo"


async def _serve(
    start_server: StartServer,
    model: Any,
    executor: BoundedExecutor | None = None,
    metrics: Metrics | None = None,
) -> tuple[pb_grpc.AcousticServiceStub, BoundedExecutor]:
    executor = executor or BoundedExecutor(max_workers=1, max_queue=4)
    batchers = build_decode_batchers({model.voice: model}, executor)
    servicer = AcousticServicer(batchers, executor, chunk_steps=2)
    channel = await start_server(servicer.register, metrics)
    return pb_grpc.AcousticServiceStub(channel), executor


async def _read_all(call: Any) -> tuple[Any, list[Any]]:
    responses = [r async for r in call]
    assert responses[0].WhichOneof("content") == "header"
    assert all(r.WhichOneof("content") == "chunk" for r in responses[1:])
    return responses[0].header, [r.chunk for r in responses[1:]]


@pytest.mark.parametrize("fixture", ["small_causal", "small_noncausal"])
async def test_stream_equals_whole_mel(
    start_server: StartServer, acoustic_models: dict[str, Any], fixture: str
) -> None:
    """Header first, then ordered chunks whose frames concatenate to ``.mel``."""
    model = acoustic_models[fixture]
    stub, _ = await _serve(start_server, model)
    case = golden_cases(fixture)[1]
    request = pb.StreamMelRequest(symbols=case.meta["symbols"], chunk_steps=3)
    header, chunks = await _read_all(stub.StreamMel(request, timeout=TIMEOUT_S))
    assert (header.voice, header.revision) == (VOICE, model.revision)
    assert (header.num_mels, header.hop_length, header.sample_rate_hz) == (
        80,
        200,
        16000,
    )
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    mels = [decode_mel(c.mel, 80) for c in chunks]
    starts = np.cumsum([0] + [len(m) for m in mels[:-1]])
    assert [c.start_frame for c in chunks] == starts.tolist()
    assert len(chunks) > 3, "chunk_steps=3 should give several chunks"
    streamed = np.concatenate(mels)
    np.testing.assert_allclose(streamed, model.mel(case.meta["symbols"]), atol=1e-5)
    # The header says how long the sentence will be, symbol by symbol.
    assert len(header.symbol_frames) == len(case.meta["symbols"].split())
    assert sum(header.symbol_frames) == header.num_frames == len(streamed)
    np.testing.assert_allclose(streamed, case.arrays["mel"], atol=1e-4)


async def test_pitch_and_energy_reach_the_model(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """A pitch or energy shift changes the mel, not its length; out of range is
    INVALID_ARGUMENT naming the field."""
    model = acoustic_models["small_causal"]
    stub, _ = await _serve(start_server, model)
    symbols = golden_cases("small_causal")[1].meta["symbols"]

    async def mel(**fields: Any) -> tuple[Any, np.ndarray]:
        request = pb.StreamMelRequest(symbols=symbols, **fields)
        header, chunks = await _read_all(stub.StreamMel(request, timeout=TIMEOUT_S))
        return header, np.concatenate([decode_mel(c.mel, 80) for c in chunks])

    base_header, base = await mel()
    for fields in ({"pitch_semitones": 4.0}, {"energy_shift": 0.8}):
        header, shifted = await mel(**fields)
        assert list(header.symbol_frames) == list(base_header.symbol_frames), fields
        assert shifted.shape == base.shape and np.abs(shifted - base).mean() > 1e-3
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mel(pitch_semitones=13.0)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "pitch_semitones" in (err.value.details() or "")


async def test_emotion_speaker_speed_reach_the_model(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """Set emotion/speaker/speed give the adapter's output for them; 0 speed = 1.0."""
    model = acoustic_models["small_causal"]
    stub, _ = await _serve(start_server, model)
    symbols = golden_cases("small_causal")[0].meta["symbols"]
    request = pb.StreamMelRequest(
        symbols=symbols, emotion="happy", speaker="F8", speed=1.3
    )
    _, chunks = await _read_all(stub.StreamMel(request, timeout=TIMEOUT_S))
    got = np.concatenate([decode_mel(c.mel, 80) for c in chunks])
    want = model.mel(symbols, speed=1.3, emotion="happy", speaker="F8")
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert len(want) != len(model.mel(symbols)), "speed must change the length"
    _, plain = await _read_all(stub.StreamMel(pb.StreamMelRequest(symbols=symbols)))
    got = np.concatenate([decode_mel(c.mel, 80) for c in plain])
    np.testing.assert_allclose(got, model.mel(symbols), atol=1e-5)


async def test_model_info_lists_voices(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """GetModelInfo reports the voice, its revision, inventories and geometry."""
    model = acoustic_models["small_causal"]
    stub, _ = await _serve(start_server, model)
    info = await stub.GetModelInfo(pb.AcousticServiceGetModelInfoRequest())
    assert info.default_voice == VOICE
    [voice] = info.voices
    assert (voice.name, voice.revision) == (VOICE, model.revision)
    assert list(voice.emotions) == list(model.emotions) and "happy" in voice.emotions
    assert list(voice.speakers) == ["F7", "F8"]
    assert (voice.num_mels, voice.hop_length, voice.sample_rate_hz) == (80, 200, 16000)


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"voice": "nobody"}, grpc.StatusCode.NOT_FOUND, "available: testvoice_emo"),
        ({"phone": "zz_c"}, grpc.StatusCode.INVALID_ARGUMENT, "unknown phone 'zz_c'"),
        ({"emotion": "ecstatic"}, grpc.StatusCode.INVALID_ARGUMENT, "unknown emotion"),
        ({"speaker": "M99"}, grpc.StatusCode.INVALID_ARGUMENT, "unknown speaker"),
        ({"speed": 5.0}, grpc.StatusCode.INVALID_ARGUMENT, "speed 5.0 out of range"),
        ({"symbols": ""}, grpc.StatusCode.INVALID_ARGUMENT, "symbols are empty"),
    ],
)
async def test_bad_requests(
    start_server: StartServer,
    acoustic_models: dict[str, Any],
    change: dict[str, Any],
    code: grpc.StatusCode,
    fragment: str,
) -> None:
    """Bad voice or input: the status the proto promises, the adapter's message."""
    stub, _ = await _serve(start_server, acoustic_models["small_causal"])
    symbols = golden_cases("small_causal")[0].meta["symbols"]
    if "phone" in change:
        symbols = symbols.replace("{j_c$", "{" + change.pop("phone") + "$", 1)
    request = pb.StreamMelRequest(**{"symbols": symbols, **change})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _read_all(stub.StreamMel(request, timeout=TIMEOUT_S))
    assert info.value.code() == code
    assert fragment in info.value.details()


async def test_full_executor_answers_resource_exhausted(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """With the only worker busy and no queue, a stream is refused at once."""
    executor = BoundedExecutor(max_workers=1, max_queue=0)
    stub, _ = await _serve(start_server, acoustic_models["small_causal"], executor)
    gate = threading.Event()
    blocker = asyncio.ensure_future(executor.submit(gate.wait, TIMEOUT_S))
    await asyncio.sleep(0)  # let the blocker take the slot
    symbols = golden_cases("small_causal")[0].meta["symbols"]
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _read_all(stub.StreamMel(pb.StreamMelRequest(symbols=symbols)))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "queue is full" in info.value.details()
    finally:
        gate.set()
        await blocker
    _, chunks = await _read_all(stub.StreamMel(pb.StreamMelRequest(symbols=symbols)))
    assert chunks[-1].last, "serves again once the worker is free"


class _GatedModel:
    """Wraps a model; counts ``next_chunks`` calls (jobs) and blocks from the third on."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.voice, self.revision = model.voice, model.revision
        self.num_mels, self.hop_length = model.num_mels, model.hop_length
        self.sample_rate = model.sample_rate
        self.emotions, self.speakers = model.emotions, model.speakers
        self.nexts = 0
        self.blocked = threading.Event()
        self.gate = threading.Event()

    def stream_mel(self, symbols: str, **kwargs: Any) -> Any:
        return self._model.stream_mel(symbols, **kwargs)

    def next_chunks(self, streams: Any) -> list[np.ndarray | None]:
        self.nexts += 1
        if self.nexts >= 3:
            self.blocked.set()
            self.gate.wait(TIMEOUT_S)
        return self._model.next_chunks(streams)  # type: ignore[no-any-return]


async def test_client_cancel_stops_decoding(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """After a cancel, the chunk being decoded finishes and no further one starts."""
    gated = _GatedModel(acoustic_models["small_causal"])
    metrics = Metrics("acoustic-test")
    stub, executor = await _serve(start_server, gated, metrics=metrics)
    symbols = golden_cases("small_causal")[5].meta["symbols"]  # 212 frames
    call = stub.StreamMel(pb.StreamMelRequest(symbols=symbols, chunk_steps=1))
    for _ in range(3):  # header, chunk 0, chunk 1
        await call.read()
    assert await asyncio.to_thread(gated.blocked.wait, TIMEOUT_S)
    in_flight = samples(metrics.render(), "grpc_server_in_flight")
    assert (
        in_flight[
            (("grpc_method", "StreamMel"), ("grpc_service", "tts.v1.AcousticService"))
        ]
        == 1
    )
    call.cancel()
    # The handler must end while chunk 3 is still decoding (its job blocked)...
    for _ in range(250):
        if set(samples(metrics.render(), "grpc_server_in_flight").values()) == {0}:
            break
        await asyncio.sleep(0.02)
    handled = samples(metrics.render(), "grpc_server_handled_total")
    assert ("grpc_code", "CANCELLED") in next(iter(handled)), handled
    gated.gate.set()  # ...and once that job is done, nothing more is submitted.
    for _ in range(250):
        if executor.in_flight == 0:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # time for a (wrong) further next() to be submitted
    assert gated.nexts == 3, "no chunk may be decoded after the cancel"
    assert executor.in_flight == 0


async def test_mel_stream_pipes_into_the_vocoder(
    start_server: StartServer, acoustic_models: dict[str, Any], vocoders: dict[str, Any]
) -> None:
    """Header and chunks forwarded as they are: audio equals ``wave(mel(symbols))``."""
    model, voc = acoustic_models["small_noncausal"], vocoders["small_noncausal"]
    am_stub, _ = await _serve(start_server, model)
    executor = BoundedExecutor(max_workers=1, max_queue=4)
    vocoder = VocoderServicer(build_batchers({VOICE: voc}, executor), executor)
    channel = await start_server(vocoder.register)
    symbols = golden_cases("small_noncausal")[1].meta["symbols"]
    header, chunks = await _read_all(
        am_stub.StreamMel(pb.StreamMelRequest(symbols=symbols, chunk_steps=2))
    )
    config = vocoder_service_pb2.VocodeConfig(
        mel_header=header, pcm_format=audio_pb2.PCM_FORMAT_F32LE
    )
    requests = [vocoder_service_pb2.StreamVocodeRequest(config=config)]
    requests += [vocoder_service_pb2.StreamVocodeRequest(mel=c) for c in chunks]
    stub = vocoder_service_pb2_grpc.VocoderServiceStub(channel)
    replies = [r async for r in stub.StreamVocode(iter(requests), timeout=TIMEOUT_S)]
    assert replies[0].header.acoustic_revision == model.revision
    audio = np.concatenate([np.frombuffer(r.audio.pcm, "<f4") for r in replies[1:]])
    np.testing.assert_allclose(audio, voc.wave(model.mel(symbols)), atol=1e-5)


def test_config_from_env() -> None:
    """ACOUSTIC_MODEL_DIR is required; the rest have defaults and parse."""
    with pytest.raises(ConfigError, match="ACOUSTIC_MODEL_DIR"):
        AcousticConfig.from_env({})
    env = {"MODEL_DIR": "/m", "VOICES": "b, a,b", "PORT": "7000", "MAX_WORKERS": "2"}
    cfg = AcousticConfig.from_env({f"ACOUSTIC_{k}": v for k, v in env.items()})
    assert (cfg.model_dir, cfg.voices, cfg.chunk_steps) == ("/m", ("b", "a"), 4)
    assert (cfg.server.port, cfg.server.max_workers, cfg.device) == (7000, 2, "cpu")
    with pytest.raises(ConfigError, match="ACOUSTIC_CHUNK_STEPS"):
        AcousticConfig.from_env(
            {"ACOUSTIC_MODEL_DIR": "/m", "ACOUSTIC_CHUNK_STEPS": "0"}
        )


async def test_main_warms_up_serves_and_drains(launch: Any) -> None:
    """``python -m acoustic_svc`` loads, turns SERVING, streams, exits 0 on SIGTERM."""
    port, model_dir = free_port(), GOLDEN / "small_causal"
    env = {"MODEL_DIR": model_dir, "PORT": port, "METRICS_PORT": 0, "TORCH_THREADS": 1}
    child = launch("acoustic_svc", {f"ACOUSTIC_{k}": str(v) for k, v in env.items()})
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await wait_serving(channel)
        stub = pb_grpc.AcousticServiceStub(channel)
        symbols = golden_cases("small_causal")[0].meta["symbols"]
        _, chunks = await _read_all(
            stub.StreamMel(pb.StreamMelRequest(symbols=symbols))
        )
        assert sum(c.mel.num_frames for c in chunks) == 68
    child.send_signal(signal.SIGTERM)
    out, _ = await asyncio.to_thread(child.communicate, timeout=30)
    assert child.returncode == 0, out
    # Health turns SERVING only after the warm-up inference.
    assert out.index("warmed up voice testvoice_emo") < out.index('"msg": "serving"')


async def test_main_fails_fast_without_model_dir(launch: Any) -> None:
    """A missing ACOUSTIC_MODEL_DIR stops start-up with the variable's name."""
    child = launch("acoustic_svc", {"ACOUSTIC_MODEL_DIR": ""})
    out, _ = await asyncio.to_thread(child.communicate, timeout=60)
    assert child.returncode != 0
    assert "ACOUSTIC_MODEL_DIR" in out
