"""Reading a ModelScope Sambert-HifiGan model directory (no torch here).

Layout, as ModelScope's ``SambertHifigan``/``Voice`` loaders read it::

    <model_dir>/configuration.json
    <model_dir>/voices/voices.json                {"voices": [name, ...]}; first = default
    <model_dir>/voices/<voice>/am/config.yaml     + am/ckpt/checkpoint_<N>.pth
    <model_dir>/voices/<voice>/voc/config.yaml    + voc/ckpt/checkpoint_<N>.pth
    <model_dir>/voices/<voice>/voice_info.json    optional: {"emotions": [...], "speakers": [...]}

Checkpoint discovery follows ``Voice.scan_ckpt``: names starting with ``checkpoint``,
ending in ``.pth``, at least 16 characters long; the integer after the last ``_`` is
the step and the highest step wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tts_common.errors import ModelLoadError, VoiceNotFound

__all__ = ["StageFiles", "VoiceDir", "list_voices", "resolve_voice"]

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class StageFiles:
    """The files of one stage (``am`` or ``voc``) of one voice."""

    config_path: Path
    """``<voice>/<stage>/config.yaml``."""
    checkpoint_path: Path
    """The highest-step ``checkpoint_<N>.pth`` in ``<stage>/ckpt``."""
    config: dict[str, Any]
    """The parsed yaml."""

    def revision(self) -> str:
        """SHA-256 (hex) over the config and checkpoint bytes: changes with any weight."""
        digest = hashlib.sha256()
        for path in (self.config_path, self.checkpoint_path):
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as fh:
                while block := fh.read(_HASH_CHUNK):
                    digest.update(block)
        return digest.hexdigest()


@dataclass(frozen=True)
class VoiceDir:
    """One voice of a model directory, with its model-level settings."""

    model_dir: Path
    name: str
    sample_rate: int
    """``model.sample_rate`` from configuration.json (ModelScope's default 16000)."""
    has_mask: bool
    """False only if configuration.json sets ``am.linguistic_unit.has_mask: false``."""
    voice_info: dict[str, list[str]] | None
    """Contents of the optional voice_info.json."""

    @property
    def path(self) -> Path:
        return self.model_dir / "voices" / self.name

    def stage(self, stage: str) -> StageFiles:
        """Config and latest checkpoint of ``stage`` (``"am"`` or ``"voc"``)."""
        stage_dir = self.path / stage
        config_path = stage_dir / "config.yaml"
        if not config_path.is_file():
            raise ModelLoadError(f"{config_path}: missing (voice {self.name!r})")
        return StageFiles(
            config_path, _latest_checkpoint(stage_dir / "ckpt"), _read_yaml(config_path)
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a mapping at top level")
    return data


def _latest_checkpoint(ckpt_dir: Path) -> Path:
    best: tuple[int, Path] | None = None
    if ckpt_dir.is_dir():
        for path in ckpt_dir.iterdir():
            name = path.name
            if not (
                name.startswith("checkpoint")
                and name.endswith(".pth")
                and len(name) >= 16
            ):
                continue
            try:
                step = int(name[: -len(".pth")].rsplit("_", 1)[1])
            except (IndexError, ValueError):
                continue
            if best is None or step > best[0]:
                best = (step, path)
    if best is None:
        raise ModelLoadError(f"{ckpt_dir}: no checkpoint_<N>.pth found")
    return best[1]


def list_voices(model_dir: str | Path) -> list[str]:
    """Voice names from ``voices/voices.json``, default first."""
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelLoadError(f"{root}: model directory does not exist")
    data = _read_json(root / "voices" / "voices.json")
    voices = data.get("voices") if isinstance(data, dict) else None
    if not voices or not all(isinstance(v, str) and v for v in voices):
        raise ModelLoadError(
            f'{root / "voices" / "voices.json"}: expected {{"voices": [name, ...]}}'
        )
    return list(voices)


def resolve_voice(model_dir: str | Path, voice: str | None = None) -> VoiceDir:
    """The named voice (or the default one) with the model-level settings it needs."""
    root = Path(model_dir)
    names = list_voices(root)
    name = names[0] if voice is None else voice
    if name not in names:
        raise VoiceNotFound(
            f"voice {name!r} not in {root}; available: {', '.join(names)}"
        )
    conf = _read_json(root / "configuration.json")
    model_conf = conf.get("model", {}) if isinstance(conf, dict) else {}
    unit = model_conf.get("am", {}).get("linguistic_unit", {})
    info_path = root / "voices" / name / "voice_info.json"
    info = _read_json(info_path) if info_path.is_file() else None
    if info is not None and not isinstance(info, dict):
        raise ModelLoadError(f"{info_path}: expected an object")
    return VoiceDir(
        model_dir=root,
        name=name,
        sample_rate=int(model_conf.get("sample_rate", 16000)),
        has_mask=unit.get("has_mask", True) is not False,
        voice_info=info,
    )
