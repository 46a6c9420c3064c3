"""Full-size KAN-TTS generators: exact checkpoint layout, and exact streaming at full size."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import torch

from tests.golden import golden_path
from vocoder_svc.hifigan import HifiGanVocoder
from vocoder_svc.nn.kantts_hifigan import KanttsGenerator, KanttsGeneratorConfig

# kantts_model.md §5: hifigan_v1_16k.yaml / hifigan_noncausal_v1_16k.yaml.
FULL = {
    "in_channels": 80,
    "out_channels": 1,
    "channels": 256,
    "kernel_size": 7,
    "upsample_scales": [10, 5, 2, 2],
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilations": [[1, 3, 5, 7]] * 3,
    "bias": True,
    "use_weight_norm": True,
    "nonlinear_activation": "LeakyReLU",
    "nonlinear_activation_params": {"negative_slope": 0.1},
}
VARIANTS = {
    "vocoder": dict(FULL, causal=True, upsample_kernal_sizes=[20, 10, 4, 4]),
    "vocoder_noncausal": dict(FULL, causal=False, upsample_kernal_sizes=[20, 11, 4, 4]),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(golden_path("full_shapes.json").read_text())
    return loaded


def _weight_norm_shapes(generator: torch.nn.Module) -> dict[str, list[int]]:
    """State-dict shapes as the checkpoint stores them: every conv weight as g and v."""
    shapes = {}
    for key, value in generator.state_dict().items():
        if key.endswith(".weight"):
            stem = key[: -len(".weight")]
            shapes[stem + ".weight_g"] = [value.shape[0]] + [1] * (value.dim() - 1)
            shapes[stem + ".weight_v"] = list(value.shape)
        else:
            shapes[key] = list(value.shape)
    return shapes


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_state_dict_matches_reference_layout(reference, variant):
    expected = reference[variant]
    generator = KanttsGenerator(KanttsGeneratorConfig.from_params(VARIANTS[variant]))
    shapes = _weight_norm_shapes(generator)
    assert shapes == expected["shapes"]
    assert len(shapes) == expected["n_tensors"]
    assert (
        sum(math.prod(s) for s in shapes.values())
        == expected["param_count_weight_norm_form"]
    )
    folded = sum(p.numel() for p in generator.state_dict().values())
    assert folded == expected["param_count_after_remove_weight_norm"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_full_size_stream_and_batch_equal_whole(variant):
    torch.manual_seed(11)
    generator = KanttsGenerator(
        KanttsGeneratorConfig.from_params(VARIANTS[variant])
    ).eval()
    vocoder = HifiGanVocoder(generator, sample_rate=16000, revision="random")
    assert vocoder.hop_length == 200
    mel = np.random.default_rng(5).normal(size=(120, 80)).astype(np.float32)
    whole = vocoder.wave(mel)
    assert whole.shape == (120 * 200,) and np.abs(whole).max() <= 1.0
    streamed = np.concatenate(
        list(vocoder.stream_wave(mel[i : i + 16] for i in range(0, 120, 16)))
    )
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-5)
    short, full = vocoder.wave_batch([mel[:45], mel])
    np.testing.assert_allclose(short, vocoder.wave(mel[:45]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(full, whole, rtol=0, atol=1e-5)
