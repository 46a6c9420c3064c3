"""Sentences decoded together (cross-request batching) each give their unbatched mel."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from acoustic_svc import load_acoustic_model
from acoustic_svc.nn.decoder import ROUND_STEPS, PncaDecoder
from tests.golden import FIXTURES, GOLDEN, golden_cases

ATOL = 1e-5
SPEEDS = (1.0, 0.5, 2.0, 0.8, 1.3)  # speed changes the band width as well as the length
CHUNK_STEPS = (1, 2, 3, 4, 7, ROUND_STEPS + 9)


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {f: load_acoustic_model(GOLDEN / f) for f in FIXTURES}


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sentences in every decoder round run from now on."""
    sizes: list[int] = []
    real = PncaDecoder._round

    def spy(self: PncaDecoder, ws: Any) -> None:
        sizes.append(len(ws.states))
        real(self, ws)

    monkeypatch.setattr(PncaDecoder, "_round", spy)
    return sizes


def _sentences(fixture: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` sentences of different lengths, speeds (band widths) and chunk sizes."""
    rng = random.Random(seed)
    symbols = [c.meta["symbols"] for c in golden_cases(fixture)]
    return [
        {
            "symbols": symbols[i % len(symbols)],
            "speed": SPEEDS[i % len(SPEEDS)],
            "chunk_steps": rng.choice(CHUNK_STEPS),
        }
        for i in range(n)
    ]


def _together(
    model: Any, sentences: list[dict[str, Any]], joins: list[int]
) -> tuple[list[list[np.ndarray]], list[Any]]:
    """Sentence j starts before batched call ``joins[j]``; every call advances all
    open sentences by one chunk, until each has ended. Chunks, and the streams."""
    streams: list[Any] = [None] * len(sentences)
    chunks: list[list[np.ndarray]] = [[] for _ in sentences]
    call = 0
    while call <= max(joins) or any(s is not None and not s.done for s in streams):
        for j, join in enumerate(joins):
            if join == call:
                streams[j] = model.stream_mel(**sentences[j])
        open_ = [j for j, s in enumerate(streams) if s is not None and not s.done]
        for j, chunk in zip(
            open_, model.next_chunks([streams[j] for j in open_]), strict=True
        ):
            if chunk is not None:
                chunks[j].append(chunk)
        call += 1
    return chunks, streams


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_batched_mel_equals_unbatched(
    models: dict[str, Any], batch_sizes: list[int], fixture: str, n: int
) -> None:
    """Sentences joining at different calls, with different lengths, band widths,
    step indices and chunk sizes: each one's chunks are its unbatched chunks."""
    model = models[fixture]
    sentences = _sentences(fixture, n, seed=n)
    rng = random.Random(100 + n)
    joins = [0, *sorted(rng.randrange(0, 8) for _ in range(n - 1))]
    chunks, streams = _together(model, sentences, joins)
    widths = {s.sentence.state.band_width for s in streams}
    assert len(widths) >= 2, "the sentences should differ in band width"
    assert max(batch_sizes) >= 2, "some rounds must have run sentences together"
    for sentence, got in zip(sentences, chunks, strict=True):
        solo = list(model.stream_mel(**sentence))
        assert [len(c) for c in got] == [len(c) for c in solo]
        whole = model.mel(sentence["symbols"], speed=sentence["speed"])
        np.testing.assert_allclose(np.concatenate(got), whole, rtol=0, atol=ATOL)


def test_a_closed_sentence_leaves_the_batch(
    models: dict[str, Any], batch_sizes: list[int]
) -> None:
    """A sentence closed half-way is not decoded further; the others are unchanged."""
    model = models["small_causal"]
    symbols = golden_cases("small_causal")[5].meta["symbols"]  # 71 steps
    streams = [model.stream_mel(symbols, chunk_steps=2, speed=s) for s in SPEEDS[:3]]
    chunks: list[list[np.ndarray]] = [[], [], []]
    for _ in range(3):
        for j, chunk in enumerate(model.next_chunks(streams)):
            chunks[j].append(chunk)
    gone = streams[1].sentence.state
    stopped_at = gone.step
    streams[1].close()
    assert streams[1].done
    batch_sizes.clear()
    while not (streams[0].done and streams[2].done):
        for j, chunk in enumerate(model.next_chunks(streams)):
            if chunk is not None:
                chunks[j].append(chunk)
            elif j == 1:
                assert streams[1].done
    assert gone.step == stopped_at < gone.n_steps
    assert max(batch_sizes) == 2
    for j in (0, 2):
        whole = model.mel(symbols, speed=SPEEDS[j])
        np.testing.assert_allclose(np.concatenate(chunks[j]), whole, rtol=0, atol=ATOL)


def test_streams_of_another_model_are_refused(models: dict[str, Any]) -> None:
    """next_chunks only advances streams its own stream_mel made."""
    symbols = golden_cases("small_causal")[0].meta["symbols"]
    foreign = models["small_noncausal"].stream_mel(symbols)
    with pytest.raises(TypeError, match="this model's stream_mel"):
        models["small_causal"].next_chunks([foreign])
