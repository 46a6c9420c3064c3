"""Servicers, batcher, configs and the acoustic Protocol import without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "module",
    [
        "acoustic_svc.servicer",
        "acoustic_svc.model",
        "acoustic_svc.config",
        "acoustic_svc.batcher",
        "vocoder_svc.servicer",
        "vocoder_svc.batcher",
        "vocoder_svc.inbox",
        "vocoder_svc.model",
        "vocoder_svc.config",
        "frontend_svc.servicer",
        "frontend_svc.config",
    ],
)
def test_module_does_not_import_torch(module: str) -> None:
    """A fresh interpreter imports ``module`` and has no ``torch`` in sys.modules."""
    path = os.pathsep.join([str(_REPO), str(_REPO / "protos" / "gen")])
    code = (
        f"import sys, {module}\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'torch']\n"
        "assert not loaded, loaded[:5]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=_REPO,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
