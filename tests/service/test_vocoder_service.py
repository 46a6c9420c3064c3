"""VocoderService in process on the golden voices: exact streaming, batching, errors."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

import grpc
import numpy as np
import pytest

from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import vocoder_service_pb2 as pb
from sambert_tts_protos.v1 import vocoder_service_pb2_grpc as pb_grpc
from tests.golden import GOLDEN, golden_cases
from tests.service.conftest import StartServer, wait_serving
from tests.service.runtime_helpers import TIMEOUT_S, free_port, read_rest, samples
from tests.spectral import TOLERANCE
from tts_common.audio import encode_mel, float_to_pcm16, pcm16_from_bytes
from tts_common.config import ConfigError
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics
from vocoder_svc.batcher import build_batchers
from vocoder_svc.config import VocoderConfig
from vocoder_svc.inbox import (
    MAX_STEP_FRAMES,
    MIN_STEP_FRAMES,
    first_audio_frames,
    step_limit,
)
from vocoder_svc.servicer import VocoderServicer

VOICE = "testvoice_emo"
F32 = audio_pb2.PCM_FORMAT_F32LE
GEOMETRY: dict[str, int] = {"num_mels": 80, "hop_length": 200, "sample_rate_hz": 16000}
# Vocoder timings are erratic with a two-thread OpenMP team on two shared cores.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


async def _serve(
    start_server: StartServer,
    vocoder: Any,
    *,
    executor: BoundedExecutor | None = None,
    metrics: Metrics | None = None,
    **batching: Any,
) -> tuple[pb_grpc.VocoderServiceStub, VocoderServicer]:
    executor = executor or BoundedExecutor(max_workers=1, max_queue=4)
    batchers = build_batchers({VOICE: vocoder}, executor, metrics=metrics, **batching)
    servicer = VocoderServicer(batchers, executor)
    channel = await start_server(servicer.register, metrics)
    return pb_grpc.VocoderServiceStub(channel), servicer


def _messages(
    mel: np.ndarray,
    step: int,
    *,
    fmt: audio_pb2.PcmFormat = F32,
    end: str = "close",
    **cfg: Any,
) -> list[pb.StreamVocodeRequest]:
    """Config, then ``mel`` in chunks of ``step`` frames. ``end``: ``close`` (only
    the half-close ends it), ``flag`` (``last`` on the final chunk) or ``empty``
    (an extra zero-frame chunk with ``last``, as the acoustic stage sends)."""
    header = audio_pb2.MelHeader(voice=VOICE, revision="am-rev")
    header.num_mels, header.hop_length = GEOMETRY["num_mels"], GEOMETRY["hop_length"]
    header.sample_rate_hz = GEOMETRY["sample_rate_hz"]
    config = pb.VocodeConfig(mel_header=header, pcm_format=fmt, **cfg)
    out = [pb.StreamVocodeRequest(config=config)]
    starts = list(range(0, len(mel), step)) + ([len(mel)] if end == "empty" else [])
    for i, start in enumerate(starts):
        chunk = audio_pb2.MelChunk(
            mel=encode_mel(mel[start : start + step]),
            chunk_index=i,
            start_frame=start,
            last=end != "close" and i == len(starts) - 1,
        )
        out.append(pb.StreamVocodeRequest(mel=chunk))
    return out


async def _vocode(stub: Any, messages: Sequence[Any]) -> tuple[Any, list[Any]]:
    responses = [r async for r in stub.StreamVocode(iter(messages), timeout=60)]
    assert responses[0].WhichOneof("content") == "header"
    assert all(r.WhichOneof("content") == "audio" for r in responses[1:])
    return responses[0].header, [r.audio for r in responses[1:]]


def _f32(chunks: Sequence[Any]) -> np.ndarray:
    starts = np.cumsum([0] + [c.num_samples for c in chunks[:-1]]).tolist()
    assert [c.start_sample for c in chunks] == starts
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    return np.concatenate([np.frombuffer(c.pcm, "<f4") for c in chunks])


@pytest.mark.parametrize("fixture", ["small_causal", "small_noncausal"])
async def test_concurrent_streams_equal_whole_mel_audio(
    start_server: StartServer, vocoders: dict[str, Any], fixture: str
) -> None:
    """Concurrent streams, odd chunk sizes, every way of ending: each stream's audio
    equals ``wave(mel)`` within 1e-5, and batches of several streams formed."""
    voc = vocoders[fixture]
    stub, servicer = await _serve(start_server, voc)
    mels = [c.arrays["mel"] for c in golden_cases(fixture)]
    plans = [
        (mels[i % len(mels)], step, ("close", "flag", "empty")[i % 3])
        for i, step in enumerate((1, 3, 5, 7, 13, 29, 500))
    ]
    results = await asyncio.gather(
        *(_vocode(stub, _messages(m, step, end=end)) for m, step, end in plans)
    )
    for (mel, step, _), (header, chunks) in zip(plans, results, strict=True):
        assert (header.voice, header.revision) == (VOICE, voc.revision)
        assert (header.sample_rate_hz, header.pcm_format) == (16000, F32)
        assert header.acoustic_revision == "am-rev"
        audio = _f32(chunks)
        np.testing.assert_allclose(audio, voc.wave(mel), atol=1e-5, err_msg=f"{step=}")
        assert all(c.num_samples % voc.hop_length == 0 for c in chunks)
    sizes = servicer.batchers[VOICE].batch_sizes
    assert max(sizes) > 1, f"no batch formed: {sizes}"


@pytest.mark.parametrize("fixture", ["small_causal", "small_noncausal"])
async def test_audio_comes_as_soon_as_it_is_final(
    start_server: StartServer, vocoders: dict[str, Any], fixture: str
) -> None:
    """A caller that waits for audio before sending more gets, without sending
    more, the audio of every frame sent (causal) or of all but the look-ahead
    frames (non-causal); the rest comes when the stream ends."""
    voc = vocoders[fixture]
    stub, _ = await _serve(start_server, voc)
    mel = golden_cases(fixture)[0].arrays["mel"][:60]
    messages = _messages(mel, 6)
    call = stub.StreamVocode()
    await call.write(messages[0])
    assert (await call.read()).HasField("header")
    sent = received = 0
    after = voc.context_frames[1]
    for message in messages[1:]:
        await call.write(message)
        sent += message.mel.mel.num_frames
        while received < max(sent - after, 0) * voc.hop_length:
            response = await asyncio.wait_for(call.read(), TIMEOUT_S)
            received += response.audio.num_samples
        assert received <= sent * voc.hop_length
    await call.done_writing()
    tail = (await call.read()).audio
    assert tail.last and received + tail.num_samples == len(mel) * voc.hop_length
    assert voc.causal == (tail.num_samples == 0)


async def test_chunks_that_arrive_during_a_pass_go_in_one_step(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """While the vocoder is busy with a stream's chunk, the chunks that arrive meanwhile
    are vocoded together in its next passes (fewer, longer passes when behind), each
    at most a minimal step or half the audio before it (so playback never runs dry)."""
    gated = _GatedVocoder(vocoders["small_causal"])
    stub, servicer = await _serve(start_server, gated)
    mel = golden_cases("small_causal")[0].arrays["mel"][:40]
    messages = _messages(mel, 4)
    call = stub.StreamVocode()
    await call.write(messages[0])
    await call.read()  # header
    await call.write(messages[1])
    batcher = servicer.batchers[VOICE]
    await _until(lambda: sum(batcher.batch_sizes.values()) == 1, "the first pass")
    for message in messages[2:]:
        await call.write(message)
    await call.done_writing()
    await asyncio.sleep(0.2)  # the reader queues the rest while the first pass waits
    gated.gate.set()
    chunks = [(await call.read()).audio]
    while not chunks[-1].last:
        chunks.append((await call.read()).audio)
    assert [c.num_samples for c in chunks] == [4 * 200, 16 * 200, 16 * 200, 4 * 200]
    assert sum(batcher.batch_sizes.values()) == 4


async def test_s16le_default_format(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """Unspecified pcm_format gives S16LE samples of the whole-mel audio."""
    voc = vocoders["small_noncausal"]
    stub, _ = await _serve(start_server, voc)
    mel = golden_cases("small_noncausal")[0].arrays["mel"]
    header, chunks = await _vocode(
        stub, _messages(mel, 11, fmt=audio_pb2.PCM_FORMAT_UNSPECIFIED)
    )
    assert header.pcm_format == audio_pb2.PCM_FORMAT_S16LE
    pcm = np.concatenate([pcm16_from_bytes(c.pcm) for c in chunks])
    assert sum(c.num_samples for c in chunks) == len(pcm) == len(mel) * 200
    assert np.abs(pcm.astype(int) - float_to_pcm16(voc.wave(mel))).max() <= 1


async def test_concurrent_first_chunks_form_one_batch(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """Four streams' chunks arriving together run as one batch of four."""
    metrics, voc = Metrics("vocoder-test"), vocoders["small_causal"]
    stub, servicer = await _serve(
        start_server, voc, metrics=metrics, max_batch=4, max_wait_s=2.0
    )
    mel = golden_cases("small_causal")[0].arrays["mel"][:16]  # one first step
    await asyncio.gather(*(_vocode(stub, _messages(mel, 16)) for _ in range(4)))
    assert servicer.batchers[VOICE].batch_sizes == {4: 1}
    text = metrics.render()
    assert samples(text, "tts_vocoder_batch_size_count") == {(("voice", VOICE),): 1.0}
    assert samples(text, "tts_vocoder_batch_size_sum") == {(("voice", VOICE),): 4.0}


def _bad_stream(what: str) -> list[Any]:
    """A stream that ends with its one bad message (nothing is sent after it)."""
    messages = _messages(np.zeros((12, 80), np.float32), 4)
    config, chunk = messages[0].config, messages[2].mel
    if what == "bins":
        chunk.mel.CopyFrom(encode_mel(np.zeros((4, 79), np.float32)))
    elif what == "nan":
        chunk.mel.CopyFrom(encode_mel(np.full((4, 80), np.nan, np.float32)))
    elif what == "bytes":
        chunk.mel.data = chunk.mel.data[:-2]
    elif what == "order":
        chunk.chunk_index = 5
    elif what == "config_again":
        messages[2] = messages[0]
    elif what == "no_config":
        return messages[1:2]
    else:
        if what == "voice":
            config.mel_header.voice = "nobody"
        elif what == "revision":
            config.expected_revision = "0" * 64
        elif what == "geometry":
            config.mel_header.hop_length = 256
        elif what == "format":
            config.pcm_format = cast(audio_pb2.PcmFormat, 9)  # no such format
        return messages[:1]
    return messages[:3]


@pytest.mark.parametrize(
    ("what", "code", "fragment"),
    [
        ("bins", grpc.StatusCode.INVALID_ARGUMENT, "79 bins per frame"),
        ("nan", grpc.StatusCode.INVALID_ARGUMENT, "NaN"),
        ("bytes", grpc.StatusCode.INVALID_ARGUMENT, "float32 little-endian need"),
        ("order", grpc.StatusCode.INVALID_ARGUMENT, "out of order"),
        ("config_again", grpc.StatusCode.INVALID_ARGUMENT, "only the first message"),
        ("no_config", grpc.StatusCode.INVALID_ARGUMENT, "config message first"),
        ("voice", grpc.StatusCode.NOT_FOUND, "available: testvoice_emo"),
        ("revision", grpc.StatusCode.FAILED_PRECONDITION, "not the expected"),
        ("geometry", grpc.StatusCode.INVALID_ARGUMENT, "mel_header.hop_length"),
        ("format", grpc.StatusCode.INVALID_ARGUMENT, "unknown pcm_format"),
    ],
)
async def test_bad_streams(
    start_server: StartServer,
    vocoders: dict[str, Any],
    what: str,
    code: grpc.StatusCode,
    fragment: str,
) -> None:
    """Bad mel, order, config or voice: the status the proto promises.

    The client stops writing after the bad message: a grpcio aio client that
    writes after the server has ended the call may see INTERNAL instead of the
    server's status (grpc/grpc#36066).
    """
    stub, _ = await _serve(start_server, vocoders["small_causal"])
    call = stub.StreamVocode(timeout=TIMEOUT_S)
    for message in _bad_stream(what):
        await call.write(message)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await read_rest(call)
    assert info.value.code() == code
    assert fragment in info.value.details()


async def test_expected_revision_and_model_info(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """The served vocoder revision is accepted and listed by GetModelInfo."""
    voc = vocoders["small_noncausal"]
    stub, _ = await _serve(start_server, voc)
    info = await stub.GetModelInfo(pb.VocoderServiceGetModelInfoRequest())
    assert info.default_voice == VOICE
    [voice] = info.voices
    assert (voice.name, voice.revision) == (VOICE, voc.revision)
    assert (voice.sample_rate_hz, voice.num_mels, voice.hop_length) == (16000, 80, 200)
    mel = np.zeros((9, 80), np.float32)
    _, chunks = await _vocode(stub, _messages(mel, 4, expected_revision=voc.revision))
    assert sum(c.num_samples for c in chunks) == 9 * 200


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition()`` on the loop (the executor and batcher have no event to
    await) until it holds; fail naming ``what`` after TIMEOUT_S."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} never happened")
        await asyncio.sleep(0.01)


class _GatedVocoder:
    """Wraps a vocoder; ``stream_batch`` waits for ``gate``."""

    def __init__(self, voc: Any) -> None:
        self._voc = voc
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._voc, name)

    def stream_batch(self, steps: Sequence[Any]) -> list[np.ndarray]:
        self.gate.wait(TIMEOUT_S)
        waves: list[np.ndarray] = self._voc.stream_batch(steps)
        return waves


async def test_full_queue_answers_resource_exhausted(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """One batch running, one step pending (the cap): a third stream is refused."""
    gated = _GatedVocoder(vocoders["small_causal"])
    executor = BoundedExecutor(max_workers=1, max_queue=0)
    stub, servicer = await _serve(
        start_server, gated, executor=executor, max_batch=1, max_wait_s=0.0
    )
    batcher = servicer.batchers[VOICE]
    messages = _messages(np.zeros((4, 80), np.float32), 4)
    running = asyncio.ensure_future(_vocode(stub, messages))
    await _until(lambda: executor.in_flight > 0, "the first batch running")
    waiting = asyncio.ensure_future(_vocode(stub, messages))
    await _until(lambda: batcher.pending > 0, "the second step pending")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _vocode(stub, messages)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        gated.gate.set()
    for done in await asyncio.gather(running, waiting):
        assert done[1][-1].last


def test_config_from_env() -> None:
    """VOCODER_MODEL_DIR is required; batching settings parse and are checked."""
    with pytest.raises(ConfigError, match="VOCODER_MODEL_DIR"):
        VocoderConfig.from_env({})
    env = {"VOCODER_MODEL_DIR": "/m", "VOCODER_MAX_BATCH": "8"}
    cfg = VocoderConfig.from_env(env | {"VOCODER_MAX_WAIT_MS": "0.5"})
    assert (cfg.max_batch, cfg.max_wait_s, cfg.server.port) == (8, 0.0005, 50054)
    with pytest.raises(ConfigError, match="VOCODER_MAX_BATCH"):
        VocoderConfig.from_env({"VOCODER_MODEL_DIR": "/m", "VOCODER_MAX_BATCH": "0"})


@pytest.mark.parametrize(
    ("device", "dtype", "expected"),
    [
        ("cpu", "", "float32"),
        ("cuda", "", "float16"),
        ("cuda:1", "", "float16"),
        ("cuda:0", "BFloat16", "bfloat16"),
        ("cpu", "float16", "float16"),  # runs, slowly: a warning at load, not an error
        ("cuda", "float32", "float32"),
    ],
)
def test_config_dtype(device: str, dtype: str, expected: str) -> None:
    """VOCODER_DTYPE defaults to float16 on CUDA and float32 elsewhere."""
    env = {"VOCODER_MODEL_DIR": "/m", "VOCODER_DEVICE": device, "VOCODER_DTYPE": dtype}
    assert VocoderConfig.from_env(env).dtype == expected


def test_config_rejects_unknown_dtype() -> None:
    env = {"VOCODER_MODEL_DIR": "/m", "VOCODER_DTYPE": "half"}
    with pytest.raises(ConfigError, match="VOCODER_DTYPE: dtype 'half' is not one of"):
        VocoderConfig.from_env(env)


async def test_bfloat16_replica_has_its_own_revision(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """A bfloat16 replica reports the tagged revision in GetModelInfo and every header,
    refuses callers that expect the float32 audio, and its streams equal its own
    whole-mel audio within the bfloat16 tolerance."""
    from vocoder_svc import load_vocoder

    voc = load_vocoder(GOLDEN / "small_causal", dtype="bfloat16")
    f32_revision = vocoders["small_causal"].revision
    assert voc.revision == f32_revision + "+bf16"
    stub, _ = await _serve(start_server, voc)
    info = await stub.GetModelInfo(pb.VocoderServiceGetModelInfoRequest())
    assert [v.revision for v in info.voices] == [voc.revision]
    mels = [c.arrays["mel"] for c in golden_cases("small_causal")[:3]]
    results = await asyncio.gather(*(_vocode(stub, _messages(m, 7)) for m in mels))
    for mel, (header, chunks) in zip(mels, results, strict=True):
        assert header.revision == voc.revision
        TOLERANCE["bfloat16"].check(voc.wave(mel), _f32(chunks), "bf16 stream")
    # Only the config is written: see test_bad_streams on writing after the end.
    call = stub.StreamVocode(timeout=TIMEOUT_S)
    await call.write(_messages(mels[0], 7, expected_revision=f32_revision)[0])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await read_rest(call)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "+bf16" in refused.value.details()


async def test_main_warms_up_serves_and_drains(launch: Any) -> None:
    """``python -m vocoder_svc`` loads (in VOCODER_DTYPE), reports SERVING, vocodes,
    exits 0 on SIGTERM."""
    port, model_dir = free_port(), GOLDEN / "small_noncausal"
    env = {"MODEL_DIR": model_dir, "PORT": port, "METRICS_PORT": 0, "TORCH_THREADS": 1}
    env["DTYPE"] = "bfloat16"
    child = launch("vocoder_svc", {f"VOCODER_{k}": str(v) for k, v in env.items()})
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await wait_serving(channel)
        stub = pb_grpc.VocoderServiceStub(channel)
        _, chunks = await _vocode(stub, _messages(np.zeros((10, 80), np.float32), 3))
        assert sum(c.num_samples for c in chunks) == 2000
    child.send_signal(signal.SIGTERM)
    out, _ = await asyncio.to_thread(child.communicate, timeout=30)
    assert child.returncode == 0, out
    # Health turns SERVING only after the warm-up inference.
    assert out.index("warmed up voice testvoice_emo") < out.index('"msg": "serving"')
    assert "dtype=bfloat16" in out


def test_step_limit_grows_with_the_audio_sent() -> None:
    """Steps give half as much new audio as was sent (16..64 frames); a look-ahead
    still held back is added, so a non-causal first answer is not a sliver."""
    assert step_limit(0, 0, 0) == MIN_STEP_FRAMES
    assert step_limit(0, 0, 13) == MIN_STEP_FRAMES + 13
    assert step_limit(29, 16, 13) == MIN_STEP_FRAMES  # the look-ahead is in
    assert step_limit(61, 48, 13) == 24
    assert step_limit(5000, 4987, 13) == MAX_STEP_FRAMES
    assert first_audio_frames(0) == 1  # causal: any frame is audio at once
    assert first_audio_frames(13) == 13 + MIN_STEP_FRAMES
