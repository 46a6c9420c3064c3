"""VOCODER_DTYPE: bfloat16 and float16 stay close to float32 (tolerance in tests/spectral.py),
on CPU here and on CUDA where one exists (``pytest -m gpu``, run by script/gpu-check)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from tests.golden import GOLDEN, golden_cases
from tests.spectral import TOLERANCE, closeness
from tts_common.errors import ModelLoadError, TtsError
from tts_common.modeldir import resolve_voice
from vocoder_svc.hifigan import HifiGanVocoder
from vocoder_svc.loading import load_vocoder
from vocoder_svc.nn.kantts_hifigan import KanttsGenerator

FIXTURES = ("small_causal", "small_noncausal")
_CUDA = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA device: float16/bfloat16 on cuDNN are checked by "
        "`pytest -m gpu` on a GPU machine (script/gpu-check)",
    ),
]
PLACES = [
    pytest.param("cpu", "bfloat16", id="cpu-bf16"),
    pytest.param("cpu", "float16", id="cpu-fp16"),
    pytest.param("cuda", "bfloat16", id="cuda-bf16", marks=_CUDA),
    pytest.param("cuda", "float16", id="cuda-fp16", marks=_CUDA),
]

Load = Callable[[str, str, str], HifiGanVocoder]


@pytest.fixture(scope="module")
def load() -> Iterator[Load]:
    """``load(fixture, device, dtype)``: a golden vocoder, loaded once per module."""
    loaded: dict[tuple[str, str, str], HifiGanVocoder] = {}

    def get(fixture: str, device: str, dtype: str) -> HifiGanVocoder:
        key = (fixture, device, dtype)
        if key not in loaded:
            loaded[key] = load_vocoder(GOLDEN / fixture, device=device, dtype=dtype)
        return loaded[key]

    yield get
    for vocoder in loaded.values():
        vocoder.close()


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize(("device", "dtype"), PLACES)
def test_close_to_float32_reference(
    load: Load, fixture: str, device: str, dtype: str
) -> None:
    """Every golden case's audio is within the dtype's tolerance of the float32
    reference wave, and comes back as float32 of the right length."""
    vocoder = load(fixture, device, dtype)
    for case in golden_cases(fixture):
        wave = vocoder.wave(case.arrays["mel"])
        assert wave.dtype == np.float32 and wave.shape == case.arrays["wav"].shape
        TOLERANCE[dtype].check(case.arrays["wav"], wave, f"{dtype} {case.id}")


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize(("device", "dtype"), PLACES)
def test_stream_and_batches_equal_whole_audio(
    load: Load, fixture: str, device: str, dtype: str
) -> None:
    """Streamed audio (local streams, and the servicer's way: a step of several
    streams in one ``stream_batch``) equals the whole-sentence audio in the same
    dtype, within that dtype's tolerance."""
    vocoder = load(fixture, device, dtype)
    # Chunk sizes only change the window lengths (float32 tests cover every size).
    mels = [c.arrays["mel"] for c in golden_cases(fixture)[:3]]
    chunks = [mels[0][i : i + 16] for i in range(0, len(mels[0]), 16)]
    streamed = np.concatenate(list(vocoder.stream_wave(chunks)))
    TOLERANCE[dtype].check(vocoder.wave(mels[0]), streamed, "local stream")
    for mel, audio in zip(mels, _batched_streams(vocoder, mels, 24), strict=True):
        TOLERANCE[dtype].check(vocoder.wave(mel), audio, "batched streams")


def _batched_streams(
    vocoder: HifiGanVocoder, mels: list[np.ndarray], step: int
) -> list[np.ndarray]:
    """Stream every mel in ``step``-frame chunks at once, each step of all streams
    vocoded together, as VocodeBatcher does; the audio of each stream."""
    streams = [vocoder.open_stream() for _ in mels]
    out: list[list[np.ndarray]] = [[] for _ in mels]
    for start in range(0, max(map(len, mels)), step):
        live = [i for i, mel in enumerate(mels) if start < len(mel)]
        steps = [
            (streams[i], mels[i][start : start + step], start + step >= len(mels[i]))
            for i in live
        ]
        for i, audio in zip(live, vocoder.stream_batch(steps), strict=True):
            out[i].append(audio)
    return [np.concatenate(parts) for parts in out]


def test_revision_tags_reduced_precision(load: Load) -> None:
    """float32 keeps the checkpoint's revision (caches stay valid); bfloat16 and
    float16 add a tag, so the gateway's cache keys tell the precisions apart."""
    base = resolve_voice(GOLDEN / "small_causal").stage("voc").revision()
    assert len(base) == 64 and int(base, 16) >= 0
    revisions = {
        dtype: load("small_causal", "cpu", dtype).revision
        for dtype in ("float32", "bfloat16", "float16")
    }
    assert revisions == {
        "float32": base,
        "bfloat16": base + "+bf16",
        "float16": base + "+fp16",
    }
    assert load_vocoder(GOLDEN / "small_causal").revision == base  # CPU default


def test_tolerance_rejects_real_differences(load: Load) -> None:
    """The bfloat16 bar is not vacuous: 1 dB of gain, or mel noise of 5% of its
    spread, fails it although bfloat16 rounding passes."""
    case = golden_cases("small_causal")[1]
    mel, ref = case.arrays["mel"], case.arrays["wav"]
    vocoder = load("small_causal", "cpu", "float32")
    noisy = mel + np.random.default_rng(0).normal(0, 0.05 * mel.std(), mel.shape)
    for what, wave in (
        ("gain +1 dB", ref * 10 ** (1 / 20)),
        ("noisy mel", vocoder.wave(noisy.astype(np.float32))),
    ):
        with pytest.raises(AssertionError):
            TOLERANCE["bfloat16"].check(ref, wave, what)
    assert closeness(ref, vocoder.wave(mel)).snr_db > 100  # float32 itself: exact


def test_float16_overflow_is_an_error_not_silence() -> None:
    """float16 saturates at 65504; audio that overflowed to NaN fails the call
    (PCM conversion would have made it silence, and the cache would keep it)."""
    vocoder = load_vocoder(GOLDEN / "small_causal", dtype="float16")
    generator = vocoder._generator
    assert isinstance(generator, KanttsGenerator)
    with torch.no_grad():  # conv_pre's outputs reach -2.8e7: -inf in float16
        generator.conv_pre.conv1d.weight.fill_(1e4)
    mel = golden_cases("small_causal")[0].arrays["mel"]
    with pytest.raises(TtsError, match="non-finite audio in float16"):
        vocoder.wave(mel)
    with pytest.raises(TtsError, match="VOCODER_DTYPE=bfloat16 or float32"):
        vocoder.wave_batch([mel, mel[:9]])


def test_unknown_dtype_is_a_load_error() -> None:
    with pytest.raises(ModelLoadError, match="'float64' is not one of float32"):
        load_vocoder(GOLDEN / "small_causal", dtype="float64")
