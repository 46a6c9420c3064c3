"""``ttsctl bench model --reference-wheel``: a wrong wheel is refused with a message
that says what to pass, before anything is imported or registered."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from ttsctl.bench_reference import _import_from_wheel, _passthrough


def test_missing_wheel_names_the_file_and_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no such file; get one with pip download"):
        _import_from_wheel(tmp_path / "nope.whl", tmp_path / "x")


def test_wheel_without_kantts_asks_for_modelscope_1_3(tmp_path: Path) -> None:
    wheel = tmp_path / "modelscope-1.40.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("modelscope/__init__.py", "")
    with pytest.raises(SystemExit, match=r"use a modelscope 1\.3\.x wheel"):
        _import_from_wheel(wheel, tmp_path / "x")
    assert "modelscope.models.audio.tts.kantts" not in sys.modules


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "broken.whl"
    wheel.write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match="not a wheel"):
        _import_from_wheel(wheel, tmp_path / "x")


def test_stubbed_decorators_pass_functions_through() -> None:
    def f() -> int:
        return 1

    assert _passthrough(f) is f  # @jit
    assert _passthrough(nopython=True)(f) is f  # @jit(nopython=True)
