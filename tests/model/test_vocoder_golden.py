"""The HiFi-GAN port reproduces the reference KAN-TTS waves on the golden random-weight voices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.golden import GOLDEN, all_cases, golden_cases

CASES = all_cases()
ATOL = 1e-4


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_wave_matches_reference(golden_vocoder, case):
    vocoder = golden_vocoder(case.fixture)
    mel, ref = case.arrays["mel"], case.arrays["wav"]
    wave = vocoder.wave(mel)
    assert wave.dtype == np.float32
    assert wave.shape == ref.shape == (len(mel) * vocoder.hop_length,)
    np.testing.assert_allclose(wave, ref, rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    ("fixture", "causal"), [("small_causal", True), ("small_noncausal", False)]
)
def test_properties_follow_config(golden_vocoder, fixture, causal):
    vocoder = golden_vocoder(fixture)
    assert vocoder.sample_rate == 16000
    assert (vocoder.num_mels, vocoder.hop_length) == (80, 200)
    assert vocoder.causal is causal
    assert len(vocoder.revision) == 64
    # Same AM, different vocoder checkpoints: the revision must tell them apart.
    other = golden_vocoder("small_noncausal" if causal else "small_causal")
    assert vocoder.revision != other.revision


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("fixture", ["small_causal", "small_noncausal"])
def test_wave_on_cuda_matches_reference(fixture):
    from vocoder_svc import load_vocoder

    vocoder = load_vocoder(GOLDEN / fixture, device="cuda", dtype="float32")
    cases = golden_cases(fixture)
    # TF32 convolutions (cuDNN's default) round to ~1e-3; check the exact float32 maths.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        for case in cases:
            wave = vocoder.wave(case.arrays["mel"])
            np.testing.assert_allclose(wave, case.arrays["wav"], rtol=0, atol=ATOL)
        mels = [c.arrays["mel"] for c in cases]
        for mel, out in zip(mels, vocoder.wave_batch(mels), strict=True):
            np.testing.assert_allclose(out, vocoder.wave(mel), rtol=0, atol=1e-5)
    vocoder.close()
