"""Streaming and batched vocoding give the same audio as one whole-mel call."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from tests.golden import GOLDEN, golden_cases
from tts_common.errors import InvalidInput
from vocoder_svc.nn.classic_hifigan import ClassicGenerator, ClassicGeneratorConfig
from vocoder_svc.nn.kantts_hifigan import KanttsGenerator, KanttsGeneratorConfig

FIXTURES = ("small_causal", "small_noncausal")
CHUNKS = (1, 2, 3, 7, 16, 50, None)  # None: the whole mel as one chunk
ATOL = 1e-5


def _longest_mel(fixture: str) -> np.ndarray:
    return max((c.arrays["mel"] for c in golden_cases(fixture)), key=len)


def _stream(
    vocoder, mel: np.ndarray, size: int
) -> tuple[np.ndarray, list[tuple[int | None, int]]]:
    """Stream ``mel`` in chunks of ``size``; log (frames fed so far, samples out so far).

    Frames fed is ``None`` once the input iterator is exhausted (end of stream).
    """
    fed: list[int | None] = [0]

    def chunks():
        for start in range(0, len(mel), size):
            fed[0] = min(start + size, len(mel))
            yield mel[start : start + size]
        fed[0] = None

    pieces: list[np.ndarray] = []
    log: list[tuple[int | None, int]] = []
    for piece in vocoder.stream_wave(chunks()):
        assert piece.dtype == np.float32 and len(piece) % vocoder.hop_length == 0
        pieces.append(piece)
        log.append((fed[0], sum(len(p) for p in pieces)))
    return np.concatenate(pieces), log


@pytest.mark.parametrize("size", CHUNKS, ids=lambda s: f"chunk{s or 'all'}")
@pytest.mark.parametrize("fixture", FIXTURES)
def test_stream_equals_whole(golden_vocoder, fixture, size):
    vocoder = golden_vocoder(fixture)
    mel = _longest_mel(fixture)
    whole = vocoder.wave(mel)
    streamed, log = _stream(vocoder, mel, size or len(mel))
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=ATOL)

    hop, (_, after) = vocoder.hop_length, vocoder.context_frames
    if vocoder.causal:
        # Zero look-ahead: every chunk's audio comes out as soon as the chunk is in.
        assert after == 0
        assert len(log) == -(-len(mel) // (size or len(mel)))  # one piece per chunk
        assert all(fed is not None and out == fed * hop for fed, out in log)
    else:
        # At most the look-ahead frames are held back, and only until the end.
        assert after > 0
        outs = [out for _, out in log]
        assert outs == sorted(outs) and outs[-1] == len(mel) * hop
        for fed, out in log[:-1]:
            assert fed is not None and (fed - after) * hop <= out <= fed * hop


@pytest.mark.parametrize("fixture", FIXTURES)
def test_stream_skips_empty_chunks(golden_vocoder, fixture):
    vocoder = golden_vocoder(fixture)
    mel = _longest_mel(fixture)[:40]
    empty = mel[:0]
    chunks = [empty, mel[:5], empty, empty, mel[5:17], empty, mel[17:], empty]
    streamed = np.concatenate(list(vocoder.stream_wave(iter(chunks))))
    np.testing.assert_allclose(streamed, vocoder.wave(mel), rtol=0, atol=ATOL)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_wave_batch_equals_wave(golden_vocoder, fixture):
    vocoder = golden_vocoder(fixture)
    long = _longest_mel(fixture)
    rng = np.random.default_rng(7)
    # Mixed lengths, including a single frame and mels far shorter than the padding.
    mels = [
        long[:1],
        long,
        rng.normal(size=(5, 80)).astype(np.float32),
        long[30:98],
        long[::-1][:37].copy(),
    ]
    outputs = vocoder.wave_batch(mels)
    assert len(outputs) == len(mels)
    for mel, out in zip(mels, outputs, strict=True):
        assert out.shape == (len(mel) * vocoder.hop_length,)
        np.testing.assert_allclose(out, vocoder.wave(mel), rtol=0, atol=ATOL)
    same = vocoder.wave_batch([long[:20], long[20:40]])  # equal lengths: no masks
    np.testing.assert_allclose(same[1], vocoder.wave(long[20:40]), rtol=0, atol=ATOL)
    assert vocoder.wave_batch([]) == []


@pytest.mark.parametrize("fixture", FIXTURES)
def test_streams_batched_together_equal_whole(golden_vocoder, fixture):
    """Streams of different lengths and chunk sizes, starting and ending at
    different steps, share each pass (as in the vocoder's batcher); each stream's
    audio equals its whole-mel audio."""
    vocoder = golden_vocoder(fixture)
    long = _longest_mel(fixture)
    mels = [long, long[:1], long[7:60], long[::-1][:33].copy()]
    sizes, starts = [5, 1, 12, 3], [0, 2, 1, 4]  # step at which each stream joins
    streams = [vocoder.open_stream() for _ in mels]
    pos = [0] * len(mels)
    out: list[list[np.ndarray]] = [[] for _ in mels]
    for tick in range(200):
        live = [
            i for i in range(len(mels)) if tick >= starts[i] and not streams[i].ended
        ]
        if not live:
            break
        steps = []
        for i in live:
            chunk = mels[i][pos[i] : pos[i] + sizes[i]]
            pos[i] += len(chunk)
            steps.append((streams[i], chunk, pos[i] == len(mels[i])))
        for i, audio in zip(live, vocoder.stream_batch(steps), strict=True):
            assert len(audio) % vocoder.hop_length == 0
            out[i].append(audio)
    for mel, parts in zip(mels, out, strict=True):
        np.testing.assert_allclose(
            np.concatenate(parts), vocoder.wave(mel), rtol=0, atol=ATOL
        )


@pytest.mark.parametrize("fixture", FIXTURES)
def test_streaming_computes_every_sample_once(golden_vocoder, fixture, monkeypatch):
    """Streamed in 1-frame chunks, the convs produce exactly as many outputs as
    when the whole mel is one chunk: no context is recomputed."""
    vocoder = golden_vocoder(fixture)
    mel = _longest_mel(fixture)[:40]
    produced = [0]
    conv2d = F.conv2d

    def counting(*args, **kwargs):
        out = conv2d(*args, **kwargs)
        produced[0] += out.numel()
        return out

    monkeypatch.setattr(F, "conv2d", counting)  # what the streaming convs call
    counts = []
    for size in (1, len(mel)):
        produced[0] = 0
        list(vocoder.stream_wave(mel[i : i + size] for i in range(0, len(mel), size)))
        counts.append(produced[0])
    assert counts[0] == counts[1] > 0


def test_stream_errors_leave_state_alone(golden_vocoder):
    """A stream that ends without frames, or takes a step after its end, is
    refused before any state changes."""
    vocoder = golden_vocoder("small_noncausal")
    mel = _longest_mel("small_noncausal")[:10]
    stream = vocoder.open_stream()
    empty = mel[:0]
    with pytest.raises(InvalidInput, match="no frames"):
        vocoder.stream_batch([(stream, empty, True)])
    other = vocoder.open_stream()
    with pytest.raises(InvalidInput, match="no frames"):  # one bad step: none run
        vocoder.stream_batch([(other, mel, False), (stream, empty, True)])
    assert (stream.frames, other.frames) == (0, 0)
    audio = vocoder.stream_batch([(stream, mel, True)])[0]
    np.testing.assert_allclose(audio, vocoder.wave(mel), rtol=0, atol=ATOL)
    with pytest.raises(InvalidInput, match="already ended"):
        vocoder.stream_batch([(stream, mel, False)])


def _small_classic(resblock: str) -> ClassicGeneratorConfig:
    """A tiny jik876 layout with either residual block type, 8 mels, hop 16."""
    return ClassicGeneratorConfig(
        resblock=resblock,
        upsample_rates=(4, 4),
        upsample_kernel_sizes=(8, 8),
        upsample_initial_channel=16,
        resblock_kernel_sizes=(3, 5),
        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5))
        if resblock == "1"
        else ((1, 3), (1, 3)),
        num_mels=8,
    )


@pytest.mark.parametrize("resblock", ["1", "2"])
def test_classic_stream_net_equals_forward(resblock):
    """jik876's layout (the demo voice's) in streaming form gives its forward's
    samples, chunk by chunk."""
    cfg = _small_classic(resblock)
    torch.manual_seed(3)
    generator = ClassicGenerator(cfg).eval()
    mel = torch.randn(30, 8)
    net = generator.stream_net()
    with torch.inference_mode():
        whole = generator(mel.T[None])[0, 0]
        state = net.open(mel)
        parts = [
            net.push([mel[i : i + 4]], [state], [i + 4 >= len(mel)])[0]
            for i in range(0, len(mel), 4)
        ]
    torch.testing.assert_close(torch.cat(parts), whole, rtol=0, atol=1e-6)


def test_padding_would_leak_without_masks(golden_vocoder):
    """Guards the batch test: a non-causal model does read past a short item's end."""
    vocoder = golden_vocoder("small_noncausal")
    mel = _longest_mel("small_noncausal")[:20]
    padded = np.concatenate([mel, np.zeros((30, 80), np.float32)])
    unmasked = vocoder.wave(padded)[: len(mel) * vocoder.hop_length]
    assert np.abs(unmasked - vocoder.wave(mel)).max() > 1e-3


def _generator(fixture: str) -> KanttsGenerator:
    config = yaml.safe_load(
        (GOLDEN / fixture / "voices/testvoice_emo/voc/config.yaml").read_text()
    )
    return KanttsGenerator(
        KanttsGeneratorConfig.from_params(config["Model"]["Generator"]["params"])
    )


def _measured_context(
    generator: torch.nn.Module, num_mels: int, hop: int
) -> tuple[int, int]:
    """The input frames one output frame depends on, found with autograd.

    With positive, normalised weights and zero biases every path through the
    network has a positive gradient, so nothing cancels and float64 shows every
    structural dependency, however weak.
    """
    generator = generator.double().eval()
    with torch.no_grad():
        for name, param in generator.named_parameters():
            if name.endswith("bias"):
                param.zero_()
                continue
            fan_dims = (0, 2) if "deconv" in name or "ups." in name else (1, 2)
            param.abs_().div_(param.sum(dim=fan_dims, keepdim=True)).mul_(0.3)
    frames, target = 100, 50
    mel = (torch.rand(1, num_mels, frames, dtype=torch.float64) * 0.1).requires_grad_()
    wave = generator(mel)[0, 0]
    wave[target * hop : (target + 1) * hop].sum().backward()
    assert mel.grad is not None
    touched = torch.nonzero(mel.grad.abs().sum(dim=1)[0] > 0)[:, 0]
    return target - int(touched[0]), int(touched[-1]) - target


@pytest.mark.parametrize("fixture", FIXTURES)
def test_context_frames_is_the_exact_receptive_field(fixture):
    generator = _generator(fixture)
    computed = generator.context_frames()
    assert _measured_context(generator, 80, 200) == computed
    # kantts_model.md §5/§9 measured zero look-ahead (causal) and ~16.2 frames of
    # visible look-ahead (non-causal); the structural reach is a little wider.
    if fixture == "small_causal":
        assert computed[1] == 0
    else:
        assert 17 <= computed[1] <= 20


@pytest.mark.parametrize("resblock", ["1", "2"])
def test_classic_context_frames_is_the_exact_receptive_field(resblock):
    cfg = _small_classic(resblock)
    generator = ClassicGenerator(cfg)
    assert _measured_context(generator, 8, 16) == generator.context_frames()
