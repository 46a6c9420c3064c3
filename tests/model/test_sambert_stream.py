"""Streamed mel equals whole-utterance mel for every chunk size; speed scales length."""

from __future__ import annotations

import numpy as np
import pytest

from acoustic_svc import load_acoustic_model
from tests.golden import GOLDEN, golden_cases


@pytest.fixture(scope="module")
def model():
    return load_acoustic_model(GOLDEN / "small_causal")


@pytest.mark.parametrize("chunk_steps", [1, 2, 3, 5, 8, 40, 10_000])
def test_stream_concatenates_to_whole(model, chunk_steps):
    case = golden_cases("small_causal")[5]  # the longest: 212 frames, 71 steps
    whole = model.mel(case.meta["symbols"])
    chunks = list(model.stream_mel(case.meta["symbols"], chunk_steps=chunk_steps))
    assert all(c.dtype == np.float32 and c.shape[1] == 80 and len(c) for c in chunks)
    np.testing.assert_allclose(np.concatenate(chunks), whole, rtol=0, atol=1e-5)
    steps = -(-whole.shape[0] // 3)
    assert len(chunks) >= min(steps // chunk_steps, steps) - 2


def test_first_chunk_arrives_before_decoding_ends(model):
    """A one-step stream yields its first frames long before the last step: the
    postnet look-ahead (3 frames per FSMN layer) is all it waits for."""
    case = golden_cases("small_causal")[5]
    first = next(iter(model.stream_mel(case.meta["symbols"], chunk_steps=1)))
    assert 0 < first.shape[0] <= 3


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_scales_duration(model, speed):
    symbols = golden_cases("small_causal")[5].meta["symbols"]
    base = model.mel(symbols).shape[0]
    scaled = model.mel(symbols, speed=speed).shape[0]
    assert abs(scaled - base / speed) <= 0.1 * base / speed
