"""Shared fixtures for the frontend tests: one Frontend for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from frontend_svc import Frontend


@pytest.fixture(scope="session")
def fe() -> Frontend:
    return Frontend()


def shared_dir() -> Path | None:
    """The shared data folder (beside the repository), or None when absent."""
    candidates = [
        os.environ.get("TTS_SHARED_DIR", ""),
        str(Path(__file__).resolve().parents[2].parent / "shared"),
        "/work/shared",
    ]
    for cand in candidates:
        if cand and (Path(cand) / "frontend_dev" / "cpp_dev.tsv").exists():
            return Path(cand)
    return None
