"""The frontend benchmark on the shared dev files meets the issue's targets."""

from __future__ import annotations

import pytest

from frontend_svc.bench import TARGETS, run_benchmark
from tests.frontend.conftest import shared_dir


@pytest.mark.slow
def test_benchmark_meets_targets() -> None:
    folder = shared_dir()
    if folder is None:
        pytest.skip("shared/frontend_dev is not present")
    result = run_benchmark(folder)
    assert result["polyphone"]["accuracy"] >= TARGETS["polyphone"]
    assert result["tn"]["overall"]["exact"] >= TARGETS["tn_exact"]
    assert result["throughput"]["chars_per_s"] >= TARGETS["chars_per_s"]
    assert result["sandhi"]["accuracy_undisputed"] == 1.0
    assert result["passed"]
