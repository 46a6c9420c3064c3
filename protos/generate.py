"""Regenerates the checked-in Python code of protos/tts/v1 (the only writer of gen/).

The .proto package is ``tts.v1``, but a top-level Python package named ``tts`` could
clash with any other installed distribution, so the generated modules are moved
under ``sambert_tts_protos`` (``from sambert_tts_protos.v1 import audio_pb2``) and
their cross-imports are rewritten to match. Wire names (``tts.v1.GatewayService``)
are unchanged.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

_PROTO_ROOT = Path(__file__).resolve().parent
_DEFAULT_OUT = _PROTO_ROOT / "gen"
_PACKAGE = ("tts", "v1")
PYTHON_PACKAGE = ("sambert_tts_protos", "v1")
"""Where the generated modules live under ``out_dir`` (and how they import)."""
_INIT_TEXT = '"""Generated from protos/{path} by protos/generate.py; do not edit."""\n'


def proto_files(proto_root: Path = _PROTO_ROOT) -> list[Path]:
    """The .proto sources of the package, sorted so output never depends on the OS."""
    return sorted(proto_root.joinpath(*_PACKAGE).glob("*.proto"))


def generate(out_dir: Path, proto_root: Path = _PROTO_ROOT) -> None:
    """Write ``_pb2.py``, ``_pb2_grpc.py``, ``_pb2.pyi`` and the ``__init__.py`` files.

    The package folder under ``out_dir`` is emptied first, so a deleted .proto leaves
    no stale module behind.

    Args:
        out_dir: Root of the generated tree (``protos/gen`` by default); it goes on
            ``sys.path`` so imports read ``from sambert_tts_protos.v1 import audio_pb2``.
        proto_root: Folder holding ``tts/v1/*.proto``.

    Raises:
        RuntimeError: protoc failed (its messages are on stderr).
    """
    sources = proto_files(proto_root)
    if not sources:
        raise RuntimeError(f"no .proto files under {proto_root.joinpath(*_PACKAGE)}")
    package_dir = out_dir.joinpath(*PYTHON_PACKAGE)
    if out_dir.joinpath(PYTHON_PACKAGE[0]).exists():
        shutil.rmtree(out_dir.joinpath(PYTHON_PACKAGE[0]))
    package_dir.mkdir(parents=True)
    # The well-known types (google/protobuf/timestamp.proto) ship inside grpc_tools.
    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as raw_dir:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{well_known}",
            f"--python_out={raw_dir}",
            f"--grpc_python_out={raw_dir}",
            f"--pyi_out={raw_dir}",
            *(str(path.relative_to(proto_root)) for path in sources),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed; see the messages above")
        for made in sorted(Path(raw_dir).joinpath(*_PACKAGE).iterdir()):
            text = made.read_text(encoding="utf-8")
            package_dir.joinpath(made.name).write_text(
                _rename_imports(text), encoding="utf-8"
            )
    for depth in range(1, len(PYTHON_PACKAGE) + 1):
        init = out_dir.joinpath(*PYTHON_PACKAGE[:depth], "__init__.py")
        init.write_text(_INIT_TEXT.format(path="/".join(_PACKAGE)), encoding="utf-8")


def _rename_imports(text: str) -> str:
    """Point protoc's ``from tts.v1 import x_pb2`` lines (and the module names it
    gives the message classes) at the renamed package."""
    old, new = ".".join(_PACKAGE), ".".join(PYTHON_PACKAGE)
    text = re.sub(
        rf"^from {re.escape(old)} import ", f"from {new} import ", text, flags=re.M
    )
    return text.replace(f"(DESCRIPTOR, '{old}.", f"(DESCRIPTOR, '{new}.")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python protos/generate.py [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=_DEFAULT_OUT,
        help="output root (default: protos/gen, the checked-in copy)",
    )
    args = parser.parse_args(argv)
    generate(args.out.resolve())
    return 0


if __name__ == "__main__":
    # protoc is run with relative source paths, so the result does not depend on cwd.
    sys.exit(main())
