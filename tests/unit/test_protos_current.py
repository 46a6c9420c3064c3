"""The checked-in generated code is current, and the .proto files follow house rules."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

_ROOT = Path(__file__).resolve().parents[2]
_PROTOS = _ROOT / "protos"
_CHECKED_IN = _PROTOS / "gen"

# FileDescriptorProto / DescriptorProto field numbers, as used in source_code_info.
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _ONEOF = 2, 8
_ENUM_VALUE, _METHOD = 2, 2


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _descriptor_set(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path / "set.pb"
    sources = sorted(
        p.relative_to(_PROTOS) for p in (_PROTOS / "tts" / "v1").glob("*.proto")
    )
    args = [
        "protoc",
        f"-I{_PROTOS}",
        f"-I{resources.files('grpc_tools') / '_proto'}",
        "--include_source_info",
        f"--descriptor_set_out={out}",
        *map(str, sources),
    ]
    assert protoc.main(args) == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def test_generated_code_is_current(tmp_path: Path) -> None:
    """Regenerating from the .proto files reproduces protos/gen byte for byte."""
    result = subprocess.run(
        [sys.executable, str(_PROTOS / "generate.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # the output must not depend on the working directory
    )
    assert result.returncode == 0, result.stderr
    fresh, checked_in = _tree(tmp_path), _tree(_CHECKED_IN)
    assert sorted(fresh) == sorted(checked_in), "run: python protos/generate.py"
    stale = [name for name in fresh if fresh[name] != checked_in[name]]
    assert not stale, f"stale generated files {stale}; run: python protos/generate.py"


def _elements(
    file: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[tuple[int, ...], str]]:
    """(source_code_info path, name) of every element that needs a comment."""
    for i, msg in enumerate(file.message_type):
        yield (_MESSAGE, i), msg.name
        for j, fld in enumerate(msg.field):
            yield (_MESSAGE, i, _FIELD, j), f"{msg.name}.{fld.name}"
        for j, oneof in enumerate(msg.oneof_decl):
            yield (_MESSAGE, i, _ONEOF, j), f"{msg.name}.{oneof.name}"
    for i, enum in enumerate(file.enum_type):
        yield (_ENUM, i), enum.name
        for j, value in enumerate(enum.value):
            yield (_ENUM, i, _ENUM_VALUE, j), value.name
    for i, svc in enumerate(file.service):
        yield (_SERVICE, i), svc.name
        for j, method in enumerate(svc.method):
            yield (_SERVICE, i, _METHOD, j), f"{svc.name}.{method.name}"


def test_every_element_is_commented(tmp_path: Path) -> None:
    """Each message, field, oneof, enum, enum value, service and RPC has a comment."""
    missing = []
    for file in _descriptor_set(tmp_path).file:
        if not file.name.startswith("tts/"):
            continue
        commented = {
            tuple(loc.path)
            for loc in file.source_code_info.location
            if loc.leading_comments.strip() or loc.trailing_comments.strip()
        }
        missing += [
            f"{file.name}: {name}"
            for path, name in _elements(file)
            if path not in commented
        ]
    assert not missing, f"uncommented proto elements: {missing}"


def test_names_follow_buf_style(tmp_path: Path) -> None:
    """Package tts.v1, *Service names, unique standard RPC types, *_UNSPECIFIED = 0."""
    seen_types: list[str] = []
    for file in _descriptor_set(tmp_path).file:
        if not file.name.startswith("tts/"):
            continue
        assert file.package == "tts.v1"
        for enum in file.enum_type:
            zero = enum.value[0]
            assert zero.number == 0 and zero.name.endswith("_UNSPECIFIED"), enum.name
        for svc in file.service:
            assert svc.name.endswith("Service")
            for m in svc.method:
                for type_name, suffix in (
                    (m.input_type, "Request"),
                    (m.output_type, "Response"),
                ):
                    short = type_name.rsplit(".", 1)[-1]
                    assert short in (f"{m.name}{suffix}", f"{svc.name}{m.name}{suffix}")
                    seen_types.append(short)
    assert len(seen_types) == len(set(seen_types)), "an RPC type is shared"


@pytest.mark.parametrize(
    "module",
    [
        "audio_pb2",
        "frontend_service_pb2",
        "acoustic_service_pb2",
        "vocoder_service_pb2",
        "gateway_service_pb2",
    ],
)
def test_generated_modules_import(module: str) -> None:
    """The checked-in modules import as ``sambert_tts_protos.v1.<name>`` (protos/gen
    on the path), and nothing installs or needs a top-level ``tts`` package."""
    imported = importlib.import_module(f"sambert_tts_protos.v1.{module}")
    assert imported.DESCRIPTOR.package == "tts.v1"
    assert importlib.util.find_spec("tts") is None


def test_mel_travels_as_bytes() -> None:
    """MelSpectrogram carries float32 bytes plus shape, never a repeated float."""
    from sambert_tts_protos.v1 import audio_pb2

    fields = {f.name: f for f in audio_pb2.MelSpectrogram.DESCRIPTOR.fields}
    assert fields["data"].type == fields["data"].TYPE_BYTES
    assert not any(f.is_repeated for f in fields.values())
    assert {"num_frames", "num_mels"} <= set(fields)
