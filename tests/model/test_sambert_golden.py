"""Sambert reproduces the reference KAN-TTS outputs on the golden random-weight voices."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from acoustic_svc import load_acoustic_model
from acoustic_svc.encoding import SymbolEncoder
from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.sambert import Sambert
from tests.golden import GOLDEN, all_cases, golden_cases

CASES = all_cases()
ATOL = 1e-4


@pytest.fixture(scope="module")
def models():
    return {f: load_acoustic_model(GOLDEN / f) for f in {c.fixture for c in CASES}}


def _align(model, symbols):
    ids = model._encoder.encode(symbols)
    with torch.inference_mode():
        al = model._model.align(
            *(torch.from_numpy(a) for a in (ids.ling, ids.emotion, ids.speaker))
        )
        dec = torch.cat(list(model._model.decode(al)))[: al.n_frames]
    return ids, al, dec.numpy()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_ids_match_reference_encoder(models, case):
    ids = models[case.fixture]._encoder.encode(case.meta["symbols"])
    got = np.concatenate([ids.ling.T, ids.emotion[None], ids.speaker[None]])
    np.testing.assert_array_equal(got, case.arrays["ids"][:, :-1])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_intermediates_and_mel_match(models, case):
    model = models[case.fixture]
    _, al, dec = _align(model, case.meta["symbols"])
    ref = case.arrays
    for name, got in [
        ("text_hid", al.text_hid),
        ("pitch", al.pitch),
        ("energy", al.energy),
        ("log_dur", al.log_dur),
        ("dur", al.dur),
    ]:
        np.testing.assert_allclose(
            got.numpy(), ref[name], rtol=0, atol=ATOL, err_msg=name
        )
    np.testing.assert_array_equal(al.reps.numpy(), ref["dur_round"])
    assert al.n_frames == case.meta["n_frames"]
    assert al.band_width == case.meta["x_band_width"] == case.meta["h_band_width"]
    np.testing.assert_allclose(dec, ref["dec"], rtol=0, atol=ATOL)
    mel = model.mel(case.meta["symbols"])
    assert mel.dtype == np.float32 and mel.shape == ref["mel"].shape
    np.testing.assert_allclose(mel, ref["mel"], rtol=0, atol=ATOL)


def test_requested_emotion_and_speaker_rewrite_every_token(models):
    """Case 1 was made with emotion_happy on every token; strip it and ask for it."""
    case = golden_cases("small_causal")[1]
    neutral = case.meta["symbols"].replace("emotion_happy", "emotion_neutral")
    model = models["small_causal"]
    as_written = model.mel(neutral)
    assert (
        as_written.shape != case.arrays["mel"].shape
        or np.abs(as_written - case.arrays["mel"]).max() > ATOL
    )
    mel = model.mel(neutral, emotion="happy")
    np.testing.assert_allclose(mel, case.arrays["mel"], rtol=0, atol=ATOL)
    sad_f8 = golden_cases("small_causal")[2]
    plain = sad_f8.meta["symbols"].replace("$F8}", "$F7}")
    ids = model._encoder.encode(plain, speaker="F8")
    np.testing.assert_array_equal(ids.speaker, sad_f8.arrays["ids"][5, :-1])


def test_full_size_config_has_reference_keys_and_shapes():
    full = json.loads((GOLDEN / "full_shapes.json").read_text())["am"]
    sizes = SymbolEncoder(["F7"]).sizes()
    assert {k[2:]: v for k, v in sizes.items()} == {
        "sy": full["unit_sizes"]["sy"],
        "tone": full["unit_sizes"]["tone"],
        "syllable_flag": full["unit_sizes"]["syllable_flag"],
        "word_segment": full["unit_sizes"]["word_segment"],
        "emotion": full["unit_sizes"]["emotion"],
        "speaker": full["unit_sizes"]["speaker"],
    }
    model = Sambert(SambertConfig.from_params({}, sizes))
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == full["shapes"]
    assert len(shapes) == full["n_tensors"]
    assert (
        sum(v.numel() for v in model.state_dict().values())
        == full["param_count_all_tensors"]
    )
