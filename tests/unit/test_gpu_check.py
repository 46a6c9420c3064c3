"""script/gpu-check: its plan holds on a machine without a GPU, and bench model
takes the flags it passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ttsctl import _parser

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dry_run_checks_the_plan(tmp_path: Path) -> None:
    """``script/gpu-check --dry-run`` exits 0 here, checks every step it would run
    (with this interpreter) and writes nothing."""
    out = tmp_path / "gpu-check-out"
    env = os.environ | {"PYTHON": sys.executable}
    result = subprocess.run(
        [REPO / "script" / "gpu-check", "--dry-run", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "dry run: the plan holds" in report
    assert "FAILED" not in report
    for step in ("bench-float32", "bench-float16", "bench-bfloat16", "vocoder-load"):
        assert step in report
    assert "--concurrency 1,2,4,8,16,32,64 --duration 20" in report
    assert f"--out {out}/vocoder_load" in report
    assert "ok      pytest -m gpu collects" in report
    assert not out.exists()


def test_dry_run_fails_when_a_tool_is_missing(tmp_path: Path) -> None:
    """A broken plan (here: no such Python) is a failure, not a silent pass."""
    result = subprocess.run(
        [REPO / "script" / "gpu-check", "--dry-run", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHON": str(tmp_path / "no-python")},
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED  tool" in result.stdout


def test_bench_model_takes_device_dtype_batch_and_model_dir() -> None:
    """The flags gpu-check passes parse; the defaults keep today's CPU float32 run."""
    flags = ["--device", "cuda:0", "--dtype", "bfloat16", "--batch", "16"]
    args = _parser().parse_args(["bench", "model", *flags, "--model-dir", "m"])
    got = (args.device, args.dtype, args.batch, args.model_dir)
    assert got == ("cuda:0", "bfloat16", 16, "m")
    defaults = _parser().parse_args(["bench", "model"])
    assert (defaults.device, defaults.dtype, defaults.batch) == ("cpu", None, 1)
    with pytest.raises(SystemExit):
        _parser().parse_args(["bench", "model", "--dtype", "float64"])
