"""A module's ``if __name__ == "__main__":`` block is its last statement.

Run as a script, a module executes top to bottom: a function defined below the
block does not exist yet when the block calls ``main()`` (how ``python -m
training.export`` once failed with a NameError that importing it never showed).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_layering import PACKAGES

_ROOT = Path(__file__).resolve().parents[2]


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    names = [test.left, *test.comparators]
    return any(isinstance(n, ast.Name) and n.id == "__name__" for n in names) and any(
        isinstance(n, ast.Constant) and n.value == "__main__" for n in names
    )


def test_main_guards_come_last() -> None:
    checked, late = 0, []
    for package in PACKAGES:
        # Not rglob: training/ holds git-ignored virtual environments and data.
        for path in sorted((_ROOT / package).glob("**/*.py")):
            if any(part.startswith(".") or part == "data" for part in path.parts):
                continue
            body = ast.parse(path.read_text(encoding="utf-8")).body
            guards = [i for i, node in enumerate(body) if _is_main_guard(node)]
            checked += bool(guards)
            if guards and guards[-1] != len(body) - 1:
                late.append(str(path.relative_to(_ROOT)))
    assert checked >= 5, "the scan found almost no entry points"
    assert late == [], f"statements after the __main__ block in {late}"
