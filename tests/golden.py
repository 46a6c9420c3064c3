"""Access to the reference fixtures in ``tests/fixtures/golden`` (tests only).

The fixtures are part of the repository (see ``tests/fixtures/README.md``). A missing
one is an error that names the file, never a skip; and nothing here raises while a
module is imported, where one error would stop pytest from collecting any test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"
FIXTURES = ("small_causal", "small_noncausal")


def golden_path(*parts: str) -> Path:
    """``GOLDEN / parts``, which must exist.

    Raises:
        FileNotFoundError: It does not; the message names it.
    """
    path = GOLDEN.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"golden fixture {path} is missing: it belongs to the repository "
            "(tests/fixtures/README.md); restore it from git"
        )
    return path


@dataclass(frozen=True)
class GoldenCase:
    """One reference case: its metadata and its arrays (keys without the prefix)."""

    fixture: str
    index: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def model_dir(self) -> Path:
        return GOLDEN / self.fixture

    @property
    def id(self) -> str:
        return f"{self.fixture}-{self.index}-{self.meta.get('name', '')}"


@dataclass(frozen=True)
class UnloadableCases:
    """Stands for a fixture's cases that could not be loaded at import time.

    Parametrizing with it gives one test that fails with ``error`` as soon as it reads
    the case, instead of an import error that would abort the whole collection.
    """

    fixture: str
    error: Exception

    @property
    def id(self) -> str:
        return f"{self.fixture}-unloadable"

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy, pickle and pytest probe for dunders
            raise AttributeError(name)
        raise RuntimeError(
            f"golden cases of {self.fixture!r} could not be loaded: {self.error}"
        ) from self.error


def golden_cases(fixture: str) -> list[GoldenCase]:
    """All cases of a fixture; FileNotFoundError (naming it) if it is missing."""
    root = golden_path(fixture)
    meta = json.loads((root / "cases.json").read_text())["cases"]
    npz = np.load(root / "cases.npz")
    cases = []
    for i, case in enumerate(meta):
        prefix = f"c{i}_"
        arrays = {k[len(prefix) :]: npz[k] for k in npz.files if k.startswith(prefix)}
        cases.append(GoldenCase(fixture, i, case, arrays))
    return cases


def all_cases() -> list[GoldenCase | UnloadableCases]:
    """Every case of every fixture, for parametrizing at import time: a fixture that
    cannot be loaded becomes one :class:`UnloadableCases` (a failing test)."""
    cases: list[GoldenCase | UnloadableCases] = []
    for fixture in FIXTURES:
        try:
            cases.extend(golden_cases(fixture))
        except Exception as exc:  # reported by the test that reads a case
            cases.append(UnloadableCases(fixture, exc))
    return cases


def copy_fixture(dest: Path, fixture: str = "small_causal") -> Path:
    """A writable copy of a fixture's model dir (for tests that break it on purpose)."""
    import shutil

    target = dest / fixture
    shutil.copytree(golden_path(fixture), target)
    return target
