"""``python -m training.export``: a training checkpoint becomes a voice folder that
the service loaders read, with the checkpoint's weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.export import main as export_main
from training.train import build_model


def test_checkpoint_exports_to_a_voice_the_services_load(tmp_path: Path) -> None:
    from acoustic_svc import load_acoustic_model
    from frontend_svc import Frontend
    from frontend_svc.english import ENGLISH_PHONES
    from vocoder_svc import load_vocoder

    torch.manual_seed(0)
    model = build_model("tiny")
    with torch.no_grad():  # a few frames per phone (random weights predict ~0)
        model.variance_adaptor.duration_predictor.fc.bias.fill_(2.0)
    ckpt, out = tmp_path / "demo.pt", tmp_path / "voice"
    torch.save({"model": model.state_dict(), "step": 1234, "size": "tiny"}, ckpt)
    export_main(["--ckpt", str(ckpt), "--out", str(out)])

    am_dir = out / "voices" / "demo_female" / "am"
    assert (am_dir / "ckpt" / "checkpoint_1234.pth").is_file()
    info = json.loads((out / "voices" / "demo_female" / "voice_info.json").read_text())
    assert not set(info["phones"]) & ENGLISH_PHONES  # a Mandarin-only voice spells
    assert "step 1234" in (out / "README.md").read_text()

    am, voc = load_acoustic_model(out), load_vocoder(out)
    assert (am.sample_rate, am.hop_length, am.num_mels) == (22050, 256, 80)
    symbols = Frontend().analyze("你好。")[0].symbols
    mel = am.mel(symbols)
    assert mel.shape[1] == 80 and np.isfinite(mel).all()
    assert len(voc.wave(mel)) == mel.shape[0] * 256

    # The weights are the checkpoint's (stored in fp16).
    saved = torch.load(am_dir / "ckpt" / "checkpoint_1234.pth", weights_only=True)
    for name, tensor in model.state_dict().items():
        if name in saved["model"] and tensor.is_floating_point():
            torch.testing.assert_close(
                saved["model"][name].float(), tensor.half().float()
            )


def test_export_writes_the_moving_average_unless_raw(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, average = build_model("tiny"), build_model("tiny")
    ckpt = tmp_path / "demo.pt"
    torch.save(
        {
            "model": model.state_dict(),
            "ema": average.state_dict(),
            "ema_updates": 500,
            "step": 7,
            "size": "tiny",
        },
        ckpt,
    )
    for flags, source in (([], average), (["--raw"], model)):
        out = tmp_path / f"voice{len(flags)}"
        export_main(["--ckpt", str(ckpt), "--out", str(out), *flags])
        path = out / "voices" / "demo_female" / "am" / "ckpt" / "checkpoint_7.pth"
        saved = torch.load(path, weights_only=True)["model"]
        name = "variance_adaptor.duration_predictor.fc.weight"
        torch.testing.assert_close(
            saved[name].float(), source.state_dict()[name].half().float()
        )
