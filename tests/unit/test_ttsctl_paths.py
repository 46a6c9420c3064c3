"""ttsctl finds the files it ships with from wherever it is installed or run."""

from __future__ import annotations

from pathlib import Path

from ttsctl.up import default_model_dir

_REPO = Path(__file__).resolve().parents[2]


def test_up_defaults_to_the_bundled_demo_voice() -> None:
    """`ttsctl up` with no --model-dir serves voices/demo of this checkout."""
    assert default_model_dir() == _REPO / "voices" / "demo"
