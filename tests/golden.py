"""Access to the reference fixtures in ``<repo>/../shared/golden`` (tests only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden"
FIXTURES = ("small_causal", "small_noncausal")


@dataclass(frozen=True)
class GoldenCase:
    """One reference case: its metadata and its arrays (keys without the prefix)."""

    fixture: str
    index: int
    meta: dict
    arrays: dict[str, np.ndarray]

    @property
    def model_dir(self) -> Path:
        return GOLDEN / self.fixture

    @property
    def id(self) -> str:
        return f"{self.fixture}-{self.index}-{self.meta.get('name', '')}"


def golden_cases(fixture: str) -> list[GoldenCase]:
    """All cases of a fixture; skips (with the reason) if the fixtures are absent."""
    root = GOLDEN / fixture
    if not root.is_dir():
        pytest.skip(f"golden fixtures not found at {root}")
    meta = json.loads((root / "cases.json").read_text())["cases"]
    npz = np.load(root / "cases.npz")
    cases = []
    for i, case in enumerate(meta):
        prefix = f"c{i}_"
        arrays = {k[len(prefix):]: npz[k] for k in npz.files if k.startswith(prefix)}
        cases.append(GoldenCase(fixture, i, case, arrays))
    return cases


def all_cases() -> list[GoldenCase]:
    return [c for f in FIXTURES if (GOLDEN / f).is_dir() for c in golden_cases(f)]


def copy_fixture(dest: Path, fixture: str = "small_causal") -> Path:
    """A writable copy of a fixture's model dir (for tests that break it on purpose)."""
    import shutil

    target = dest / fixture
    shutil.copytree(GOLDEN / fixture, target)
    return target
