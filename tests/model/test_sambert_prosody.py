"""Pitch and energy shifts: the predicted contour moves, durations do not; and the
per-symbol frame counts the stream reports add up to the mel it makes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acoustic_svc import load_acoustic_model
from acoustic_svc.encoding import SymbolEncoder
from acoustic_svc.nn.adaptor import F0_MEAN_OVER_STD, ProsodyShift
from tests.golden import GOLDEN, golden_cases
from tts_common.errors import InvalidInput


@pytest.fixture(scope="module")
def model():
    return load_acoustic_model(GOLDEN / "small_causal")


@pytest.fixture(scope="module")
def symbols() -> str:
    return str(golden_cases("small_causal")[5].meta["symbols"])


def _align(model, symbols: str, semitones: float = 0.0, energy: float = 0.0):
    """The model's alignment for ``symbols`` under a shift, and the encoded ids."""
    ids = model._encoder.encode(symbols)
    shift = ProsodyShift(
        semitones, energy, torch.from_numpy(ids.voiced), torch.from_numpy(ids.spoken)
    )
    with torch.inference_mode():
        return model._model.align(
            torch.from_numpy(ids.ling),
            torch.from_numpy(ids.emotion),
            torch.from_numpy(ids.speaker),
            1.0,
            shift,
        ), ids


@pytest.mark.parametrize("semitones", [-12.0, -3.0, 4.0, 12.0])
def test_pitch_shift_moves_voiced_pitch_and_keeps_durations(model, symbols, semitones):
    base, ids = _align(model, symbols)
    shifted, _ = _align(model, symbols, semitones=semitones)
    assert ids.voiced.any() and not ids.voiced.all()
    torch.testing.assert_close(shifted.reps, base.reps, rtol=0, atol=0)
    k = 2.0 ** (semitones / 12.0)
    expect = k * base.pitch + (k - 1.0) * F0_MEAN_OVER_STD
    voiced = torch.from_numpy(ids.voiced)
    torch.testing.assert_close(shifted.pitch[voiced], expect[voiced])
    torch.testing.assert_close(shifted.pitch[~voiced], base.pitch[~voiced])
    direction = np.sign(semitones)
    moved = (shifted.pitch - base.pitch)[voiced]
    assert (torch.sign(moved) == direction).all()  # f0 > 0: every voiced phone moves up
    torch.testing.assert_close(shifted.energy, base.energy)


def test_energy_shift_moves_spoken_phones_only(model, symbols):
    base, ids = _align(model, symbols)
    louder, _ = _align(model, symbols, energy=0.5)
    torch.testing.assert_close(louder.reps, base.reps, rtol=0, atol=0)
    spoken = torch.from_numpy(ids.spoken)
    assert not spoken.all()  # the sentence has breaks
    torch.testing.assert_close(louder.energy[spoken], base.energy[spoken] + 0.5)
    torch.testing.assert_close(louder.energy[~spoken], base.energy[~spoken])


def test_shift_changes_the_mel_but_not_its_length(model, symbols):
    base = model.mel(symbols)
    higher = model.mel(symbols, pitch_semitones=5.0)
    louder = model.mel(symbols, energy_shift=1.0)
    assert higher.shape == base.shape == louder.shape
    assert np.abs(higher - base).mean() > 1e-3
    assert np.abs(louder - base).mean() > 1e-3
    np.testing.assert_allclose(model.mel(symbols, pitch_semitones=0.0), base, atol=1e-6)


@pytest.mark.parametrize("speed", [0.5, 1.0, 2.0])
def test_symbol_frames_add_up_to_the_stream(model, symbols, speed):
    stream = model.stream_mel(symbols, speed=speed, chunk_steps=4)
    frames = stream.symbol_frames
    assert len(frames) == len(symbols.split())
    assert all(n >= 0 for n in frames)
    assert sum(frames) == sum(len(c) for c in stream)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pitch_semitones", 12.5),
        ("pitch_semitones", float("nan")),
        ("energy_shift", -4.0),
    ],
)
def test_out_of_range_shift_is_refused(model, symbols, field, value):
    with pytest.raises(InvalidInput, match=field):
        model.stream_mel(symbols, **{field: value})


def test_voiced_and_spoken_masks_follow_the_phone_set():
    ids = SymbolEncoder(["F7"]).encode(
        "{n_c$tone3$s_begin$word_begin$emotion_neutral$F7} "
        "{i_c$tone3$s_end$word_end$emotion_neutral$F7} "
        "{#1$tone_none$s_none$word_none$emotion_neutral$F7} "
        "{h_c$tone3$s_begin$word_begin$emotion_neutral$F7} "
        "{ao_c$tone3$s_end$word_end$emotion_neutral$F7} "
        "{#4$tone_none$s_none$word_none$emotion_neutral$F7}"
    )
    assert ids.voiced.tolist() == [True, True, False, False, True, False]
    assert ids.spoken.tolist() == [True, True, False, True, True, False]
