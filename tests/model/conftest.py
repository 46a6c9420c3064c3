"""Shared fixtures for the model tests (golden voices loaded once per session)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.golden import golden_path
from vocoder_svc.model import Vocoder


@pytest.fixture(scope="session")
def golden_vocoder() -> Callable[[str], Vocoder]:
    """``golden_vocoder(fixture)``: the fixture's vocoder, loaded once and shared."""
    from vocoder_svc import load_vocoder

    loaded: dict[str, Vocoder] = {}

    def get(fixture: str) -> Vocoder:
        if fixture not in loaded:
            loaded[fixture] = load_vocoder(golden_path(fixture))
        return loaded[fixture]

    return get


@pytest.fixture
def make_voc_dir(tmp_path: Path) -> Callable[..., Path]:
    """``make_voc_dir(config, checkpoint)``: a one-voice model dir holding only a vocoder.

    ``checkpoint`` is an object to ``torch.save`` or a file path to link to.
    """

    def make(
        config: dict[str, Any],
        checkpoint: Any,
        name: str = "m",
        sample_rate: int = 16000,
    ) -> Path:
        import torch

        root = tmp_path / name
        ckpt_dir = root / "voices" / "v" / "voc" / "ckpt"
        ckpt_dir.mkdir(parents=True)
        (root / "configuration.json").write_text(
            json.dumps(
                {
                    "framework": "pytorch",
                    "task": "text-to-speech",
                    "model": {"type": "sambert-hifigan", "sample_rate": sample_rate},
                }
            )
        )
        (root / "voices" / "voices.json").write_text(json.dumps({"voices": ["v"]}))
        (root / "voices" / "v" / "voc" / "config.yaml").write_text(
            yaml.safe_dump(config)
        )
        target = ckpt_dir / "checkpoint_0.pth"
        if isinstance(checkpoint, Path):
            try:
                target.symlink_to(checkpoint)
            except OSError:
                shutil.copyfile(checkpoint, target)
        else:
            torch.save(checkpoint, target)
        return root

    return make
