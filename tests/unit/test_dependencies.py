"""pyproject.toml declares ranges; requirements/*.txt pin one set inside them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_ROOT = Path(__file__).resolve().parents[2]
_LOCKS = ("frontend.txt", "runtime.txt", "download.txt", "bench.txt")


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((_ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    reqs = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in reqs}


def _pins(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (_ROOT / "requirements" / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            package, version = line.split("==")
            pins[canonicalize_name(package)] = version.strip()
    return pins


@pytest.mark.parametrize("lock", _LOCKS)
def test_every_pin_is_inside_its_declared_range(lock: str) -> None:
    """A pin outside pyproject's range means one of the two is wrong."""
    declared = _declared()
    for package, version in _pins(lock).items():
        if package in declared:
            assert declared[package].specifier.contains(version, prereleases=True), (
                f"{lock}: {package}=={version} is outside pyproject's "
                f"{declared[package].specifier}"
            )


def test_every_declared_dependency_is_pinned() -> None:
    """Every range in pyproject has a tested pin in the lock files."""
    pinned: dict[str, str] = {}
    for lock in _LOCKS:
        pinned.update(_pins(lock))
    missing = sorted(set(_declared()) - set(pinned))
    assert not missing, f"declared in pyproject but pinned nowhere: {missing}"


def test_ranges_are_ranges_not_pins() -> None:
    """pyproject states what the code needs (a range with an upper bound)."""
    for name, req in _declared().items():
        operators = {spec.operator for spec in req.specifier}
        assert "==" not in operators, f"{name}: pin it in requirements/, not pyproject"
        assert "<" in operators, f"{name}: give it an upper bound"
