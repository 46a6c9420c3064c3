"""Shared fixtures for the frontend tests: one Frontend for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontend_svc import Frontend


@pytest.fixture(scope="session")
def fe() -> Frontend:
    return Frontend()


FRONTEND_DEV = Path(__file__).resolve().parents[1] / "fixtures" / "frontend_dev"
"""The benchmark's dev files, copied into the repository (tests/fixtures/README.md)."""
