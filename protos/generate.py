"""Regenerates the checked-in Python code of protos/tts/v1 (the only writer of gen/)."""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

_PROTO_ROOT = Path(__file__).resolve().parent
_DEFAULT_OUT = _PROTO_ROOT / "gen"
_PACKAGE = ("tts", "v1")
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
            ``sys.path`` so imports read ``from tts.v1 import audio_pb2``.
        proto_root: Folder holding ``tts/v1/*.proto``.

    Raises:
        RuntimeError: protoc failed (its messages are on stderr).
    """
    sources = proto_files(proto_root)
    if not sources:
        raise RuntimeError(f"no .proto files under {proto_root.joinpath(*_PACKAGE)}")
    package_dir = out_dir.joinpath(*_PACKAGE)
    if package_dir.exists():
        shutil.rmtree(package_dir)
    package_dir.mkdir(parents=True)
    # The well-known types (google/protobuf/timestamp.proto) ship inside grpc_tools.
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *(str(path.relative_to(proto_root)) for path in sources),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see the messages above")
    for depth in range(1, len(_PACKAGE) + 1):
        rel = "/".join(_PACKAGE[:depth])
        init = out_dir.joinpath(*_PACKAGE[:depth], "__init__.py")
        init.write_text(_INIT_TEXT.format(path=rel), encoding="utf-8")


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
