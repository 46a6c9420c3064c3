"""The bundled demo voice loads through the service loaders and speaks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

DEMO = Path(__file__).resolve().parents[2] / "voices" / "demo"

pytestmark = pytest.mark.skipif(
    not (DEMO / "voices" / "voices.json").is_file(), reason="voices/demo not exported"
)


def test_layout_and_size():
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert total < 60 * 2**20
    conf = json.loads((DEMO / "configuration.json").read_text())
    assert conf["model"]["sample_rate"] == 22050
    assert "non-commercial" in (DEMO / "README.md").read_text()


def test_speaks_through_the_service_loaders():
    from acoustic_svc import load_acoustic_model
    from frontend_svc import Frontend
    from vocoder_svc import load_vocoder

    am, voc = load_acoustic_model(DEMO), load_vocoder(DEMO)
    assert (am.sample_rate, am.hop_length, am.num_mels) == (22050, 256, 80)
    assert (voc.sample_rate, voc.hop_length) == (22050, 256)
    assert am.emotions == ("neutral",)
    symbols = Frontend().analyze("你好。")[0].symbols
    for emotion in (None, "neutral"):
        mel = am.mel(symbols, emotion=emotion)
        wav = voc.wave(mel)
        assert 0.2 < len(wav) / 22050 < 3.0  # two syllables, not silence or a run-on
        assert len(wav) == mel.shape[0] * 256
        assert 0.02 < np.abs(wav).max() < 1.0


def test_clean_output_no_clipping_no_long_silence():
    """A multi-clause sentence: no sample at full scale, no silence run over 0.8 s."""
    from acoustic_svc import load_acoustic_model
    from frontend_svc import Frontend
    from tts_common.audio import longest_inner_silence_s
    from vocoder_svc import load_vocoder

    am, voc = load_acoustic_model(DEMO), load_vocoder(DEMO)
    pieces = [
        voc.wave(am.mel(s.symbols))
        for s in Frontend().analyze("今天天气很好，我们一起去公园散步吧。")
    ]
    wav = np.concatenate(pieces)
    assert np.abs(wav).max() < 0.99
    assert longest_inner_silence_s(wav, 22050) < 0.8


def test_sentence_pause_longer_than_clause_pause():
    """As the gateway assembles a paragraph (each sentence, then the silence the
    frontend asks for after it), the pause between sentences is well over the comma
    pause inside one: paragraphs do not run together."""
    from acoustic_svc import load_acoustic_model
    from frontend_svc import Frontend
    from tts_common.audio import longest_inner_silence_s
    from vocoder_svc import load_vocoder

    am, voc = load_acoustic_model(DEMO), load_vocoder(DEMO)
    first, second = Frontend().analyze("今天天气很好，我们一起去公园散步吧。明天见。")
    assert second.pause_after_ms == 0  # nothing after the last sentence
    one = voc.wave(am.mel(first.symbols))
    gap = np.zeros(22050 * (first.break_after_ms + first.pause_after_ms) // 1000)
    paragraph = np.concatenate([one, gap, voc.wave(am.mel(second.symbols))])
    comma = longest_inner_silence_s(one, 22050)
    between = longest_inner_silence_s(paragraph, 22050)  # the sentence gap
    assert comma > 0.05
    assert between > 1.8 * comma  # about 0.55 s against 0.26 s
