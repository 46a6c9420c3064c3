"""Layering: which of our packages may import which, and no import cycles.

Every ``.py`` file of our packages is parsed with :mod:`ast`; every import counts,
also one inside a function or under ``if TYPE_CHECKING:`` (a lazy import is still a
dependency, and a type-only one still couples the two modules).

- Services (frontend, acoustic, vocoder, gateway) use only ``tts_common``, the
  generated protos and themselves: no service imports another, nor the tools.
- ``tts_common`` is below everything: it imports none of our other packages.
- ``ttsctl`` and ``training`` are tools on top: nothing else imports them.
- No import cycle between modules, nor between packages (a subpackage and the
  package above it count as two: ``gateway.cache`` may not import a module of
  ``gateway`` while a module of ``gateway`` imports ``gateway.cache``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("frontend_svc", "acoustic_svc", "vocoder_svc", "gateway")
PACKAGES = (*SERVICES, "tts_common", "ttsctl", "training")
PROTOS = "sambert_tts_protos"
OURS = frozenset({*PACKAGES, PROTOS, "tests", "protos"})
"""Top-level names of our code (``protos`` holds the generator script)."""
TOOLS = ("ttsctl", "training")


@dataclass(frozen=True)
class Import:
    """One imported name: ``source`` (a module of ours) imports ``target``."""

    source: str
    target: str
    """A module of ours when it resolves to one, else the dotted name as written."""
    line: int

    @property
    def where(self) -> str:
        """``module:line -> target``, for failure messages."""
        return f"{self.source}:{self.line} -> {self.target}"


def top(name: str) -> str:
    """The top-level package of a dotted name."""
    return name.partition(".")[0]


def package_of(module: str, packages: Iterable[str]) -> str:
    """The package a module belongs to: itself for a package, else its parent."""
    return module if module in packages else module.rpartition(".")[0]


def module_names(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file below ``packages``."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if any(part.startswith(".") for part in parts):
                continue  # virtual environments (training/.venv-*) are not ours
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(
    module: str, source: str, modules: Mapping[str, object], is_package: bool
) -> Iterator[Import]:
    """Every import in ``source`` (the text of ``module``), wherever it stands.

    ``from pkg import name`` resolves to the submodule ``pkg.name`` when there is
    one, else to ``pkg``; relative imports resolve against ``module``; a target of
    ours resolves to the longest module name that exists (``a.b.C`` -> ``a.b``).
    """
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                for a in node.names
            ]
        else:
            continue
        for name in dict.fromkeys(names):
            yield Import(module, _resolve(name, modules), node.lineno)


def _resolve(name: str, modules: Mapping[str, object]) -> str:
    probe = name
    while probe and probe not in modules:
        probe = probe.rpartition(".")[0]
    return probe or name


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle ``[a, b, ..., a]`` of ``graph``, or ``[]`` when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


@cache
def _scan() -> tuple[dict[str, Path], tuple[Import, ...]]:
    modules = module_names(_ROOT, PACKAGES)
    found = [
        imp
        for module, path in modules.items()
        for imp in imports_of(
            module,
            path.read_text(encoding="utf-8"),
            modules,
            path.name == "__init__.py",
        )
    ]
    return modules, tuple(found)


def _ours(imports: Iterable[Import]) -> list[Import]:
    return [imp for imp in imports if top(imp.target) in OURS]


def _cycle_report(imports: Iterable[Import], key: dict[str, str] | None) -> str:
    """The first cycle among the imports (mapped through ``key``), with its lines."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in imports:
        a = key[imp.source] if key else imp.source
        b = key[imp.target] if key else imp.target
        if a != b:
            edges[a, b].append(imp)
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    cycle = find_cycle(graph)
    steps = [edges[a, b][0].where for a, b in pairwise(cycle)]
    return " -> ".join(cycle) + ("\n  " + "\n  ".join(steps) if steps else "")


def test_the_scan_sees_our_packages() -> None:
    """Guard against a scan that silently reads nothing."""
    modules, imports = _scan()
    assert {top(m) for m in modules} == set(PACKAGES)
    assert len(modules) > 100 and len(_ours(imports)) > 200


def _breaking(allowed: Callable[[str, str], bool]) -> str:
    """Our imports whose (source, target) top-level packages are not ``allowed``."""
    _, imports = _scan()
    bad = [
        imp.where
        for imp in _ours(imports)
        if not allowed(top(imp.source), top(imp.target))
    ]
    return "\n".join(bad)


def test_services_import_only_tts_common_protos_and_themselves() -> None:
    bad = _breaking(
        lambda src, dst: src not in SERVICES or dst in {src, "tts_common", PROTOS}
    )
    assert not bad, f"a service reaches outside its layer:\n{bad}"


def test_tts_common_imports_nothing_above_it() -> None:
    bad = _breaking(lambda src, dst: src != "tts_common" or dst in {src, PROTOS})
    assert not bad, f"tts_common imports a package above it:\n{bad}"


def test_nothing_imports_the_tools() -> None:
    bad = _breaking(lambda src, dst: dst not in TOOLS or src == dst)
    assert not bad, f"ttsctl and training sit on top:\n{bad}"


def test_no_import_cycle_between_modules() -> None:
    modules, imports = _scan()
    inside = [imp for imp in imports if imp.target in modules]
    report = _cycle_report(inside, None)
    assert not report, f"import cycle: {report}"


def test_no_import_cycle_between_packages() -> None:
    modules, imports = _scan()
    packages = {m for m, path in modules.items() if path.name == "__init__.py"}
    key = {m: package_of(m, packages) for m in modules}
    inside = [imp for imp in imports if imp.target in modules]
    report = _cycle_report(inside, key)
    assert not report, f"import cycle between packages: {report}"


# --- the checker itself -------------------------------------------------------------

_SAMPLE = """
from __future__ import annotations
import os.path
from typing import TYPE_CHECKING
from gateway.cache import stats, CacheCounters
from . import sibling
from .. import config

if TYPE_CHECKING:
    from ttsctl.client import Client

def lazy():
    import training.train
"""


def test_checker_finds_every_kind_of_import() -> None:
    """Inside functions, under TYPE_CHECKING, relative, submodule vs name."""
    modules = dict.fromkeys(
        ["gateway", "gateway.config", "gateway.cache", "gateway.cache.stats",
         "gateway.cache.sibling", "gateway.cache.lookup", "ttsctl.client",
         "training.train"]
    )  # fmt: skip
    found = imports_of("gateway.cache.lookup", _SAMPLE, modules, is_package=False)
    targets = {imp.target for imp in found}
    assert {
        "gateway.cache.stats",  # a submodule, named in `from pkg import`
        "gateway.cache",  # a name of the package
        "gateway.cache.sibling",  # relative, level 1
        "gateway.config",  # relative, level 2
        "ttsctl.client",  # under TYPE_CHECKING
        "training.train",  # inside a function
        "os.path",
    } <= targets


def test_find_cycle_reports_the_loop() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) == []
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    imports = [Import("p.x", "q.y", 3), Import("q.y", "p.z", 7)]
    report = _cycle_report(imports, {"p.x": "p", "p.z": "p", "q.y": "q"})
    assert report.startswith("p -> q -> p") and "p.x:3 -> q.y" in report
