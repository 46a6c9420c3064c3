"""Bad symbols, parameters and checkpoints fail with clear, specific errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from acoustic_svc import load_acoustic_model
from tests.golden import GOLDEN, copy_fixture, golden_cases
from tts_common.errors import InvalidInput, ModelLoadError, VoiceNotFound

AM = "voices/testvoice_emo/am"


@pytest.fixture(scope="module")
def model():
    return load_acoustic_model(GOLDEN / "small_causal")


@pytest.fixture(scope="module")
def case0_symbols() -> str:
    """Case 0's symbols (read here, not at import, so a missing file fails the test)."""
    symbols: str = golden_cases("small_causal")[0].meta["symbols"]
    return symbols


@pytest.mark.parametrize(
    ("symbols", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("{j_c$tone1$s_begin$word_begin$emotion_neutral}", "6 non-empty"),
        ("j_c$tone1$s_begin$word_begin$emotion_neutral$F7", "braces"),
        ("{zz_c$tone1$s_begin$word_begin$emotion_neutral$F7}", "unknown phone 'zz_c'"),
        ("{j_c$tone9$s_begin$word_begin$emotion_neutral$F7}", "unknown tone"),
        ("{_$tone1$s_begin$word_begin$emotion_neutral$F7}", "unknown phone '_'"),
        ("{j_c$tone1$s_begin$word_begin$emotion_bogus$F7}", "unknown emotion"),
        ("{j_c$tone1$s_begin$word_begin$emotion_neutral$F9}", "unknown speaker"),
    ],
)
def test_bad_symbols_are_rejected(model, symbols, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        model.mel(symbols)


def test_unknown_emotion_and_speaker_list_the_valid_ones(model, case0_symbols):
    with pytest.raises(InvalidInput, match="happy") as exc:
        model.mel(case0_symbols, emotion="furious")
    assert "neutral" in str(exc.value) and "placeholder" not in str(exc.value)
    with pytest.raises(InvalidInput, match="F7, F8"):
        model.mel(case0_symbols, speaker="F9")
    assert model.speakers == ("F7", "F8")


@pytest.mark.parametrize("speed", [0.49, 2.01, 0.0, -1.0])
def test_speed_out_of_range(model, case0_symbols, speed):
    with pytest.raises(InvalidInput, match="speed"):
        model.mel(case0_symbols, speed=speed)


def test_voice_info_restricts_emotions(tmp_path, case0_symbols):
    root = copy_fixture(tmp_path)
    (root / "voices/testvoice_emo/voice_info.json").write_text(
        '{"emotions": ["neutral", "happy"], "speakers": ["F7"]}'
    )
    model = load_acoustic_model(root)
    assert model.emotions == ("neutral", "happy") and model.speakers == ("F7",)
    with pytest.raises(InvalidInput, match="neutral, happy"):
        model.mel(case0_symbols, emotion="sad")


def test_unknown_voice(tmp_path):
    with pytest.raises(VoiceNotFound, match="testvoice_emo"):
        load_acoustic_model(GOLDEN / "small_causal", voice="nobody")


def _ckpt(root):
    return root / AM / "ckpt" / "checkpoint_0.pth"


def test_corrupt_and_truncated_checkpoints(tmp_path):
    root = copy_fixture(tmp_path)
    path = _ckpt(root)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"checkpoint_0\.pth.*cannot read"):
        load_acoustic_model(root)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelLoadError, match=r"checkpoint_0\.pth"):
        load_acoustic_model(root)


def _rewrite(root, edit):
    state = torch.load(_ckpt(root), weights_only=True)
    edit(state)
    torch.save(state, _ckpt(root))


def test_missing_unexpected_and_misshaped_keys_are_named(tmp_path):
    root = copy_fixture(tmp_path)
    _rewrite(root, lambda s: s["model"].pop("mel_postnet.fc.bias"))
    with pytest.raises(ModelLoadError, match=r"missing keys \['mel_postnet.fc.bias'\]"):
        load_acoustic_model(root)
    root = copy_fixture(tmp_path / "b")
    _rewrite(root, lambda s: s["model"].update(extra=torch.zeros(1)))
    with pytest.raises(ModelLoadError, match=r"unexpected keys \['extra'\]"):
        load_acoustic_model(root)
    root = copy_fixture(tmp_path / "c")
    _rewrite(root, lambda s: s["model"].update({"mel_postnet.fc.bias": torch.zeros(3)}))
    with pytest.raises(ModelLoadError, match=r"wrong shapes \['mel_postnet.fc.bias"):
        load_acoustic_model(root)


def test_unknown_model_type(tmp_path):
    root = copy_fixture(tmp_path)
    conf_path = root / AM / "config.yaml"
    conf = yaml.safe_load(conf_path.read_text())
    conf["model_type"] = "fastspeech"
    conf_path.write_text(yaml.safe_dump(conf))
    with pytest.raises(ModelLoadError, match=r"config\.yaml.*fastspeech"):
        load_acoustic_model(root)


def test_fp16_without_fixed_tables_with_optimizer_state(tmp_path):
    """Real checkpoints may be fp16, may lack the position tables, may carry Adam."""
    root = copy_fixture(tmp_path)

    def edit(state):
        sd = state["model"]
        for key in (
            "text_encoder.ling_enc.position_enc.position_enc",
            "variance_adaptor.dur_position_encoder.inv_timescales",
        ):
            sd.pop(key)
        state["model"] = {k: v.half() for k, v in sd.items()}
        state["optimizer"] = {"state": {}, "param_groups": [{"lr": 1e-3}]}
        state["steps"] = 10

    _rewrite(root, edit)
    case = golden_cases("small_causal")[0]
    mel = load_acoustic_model(root).mel(case.meta["symbols"])
    ref = case.arrays["mel"]
    # fp16 rounding of the weights moves the output, but only a little.
    assert mel.shape == ref.shape
    assert np.abs(mel - ref).max() < 0.05


def test_highest_checkpoint_step_wins(tmp_path):
    root = copy_fixture(tmp_path)
    ckpt_dir = root / AM / "ckpt"
    (ckpt_dir / "checkpoint_12.pth").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match=r"checkpoint_12\.pth"):
        load_acoustic_model(root)


def test_revision_changes_with_weights(tmp_path):
    root = copy_fixture(tmp_path)
    before = load_acoustic_model(root).revision
    assert before == load_acoustic_model(GOLDEN / "small_causal").revision
    _rewrite(root, lambda s: s["model"]["mel_postnet.fc.bias"].add_(1.0))
    assert load_acoustic_model(root).revision != before


def test_a_voice_that_predicts_no_frames_is_refused_clearly(tmp_path, case0_symbols):
    """Every duration rounding to 0 is bad input for this voice, not a crash."""
    root = copy_fixture(tmp_path)

    def silence(state):
        fc = "variance_adaptor.duration_predictor.fc"
        state["model"][f"{fc}.weight"].zero_()
        state["model"][f"{fc}.bias"].fill_(-20.0)  # exp(-20) - 1 -> 0 frames

    _rewrite(root, silence)
    with pytest.raises(InvalidInput, match="no audio frames"):
        load_acoustic_model(root).mel(case0_symbols)
