"""The reference KAN-TTS models for ``ttsctl bench model --reference-wheel``.

ModelScope 1.3.x wheels (on PyPI) carry the KAN-TTS code that produced the golden
fixtures, under ``modelscope/models/audio/tts/kantts``. This module imports just its
Sambert and HiFi-GAN model files from such a wheel, without running ModelScope's
package ``__init__`` files (which pull in most of ModelScope), so the benchmark can
time the reference on the very weights it gives our models, in the same process.
Bench-only: nothing in the services imports it.

    pip download modelscope==1.3.2 --no-deps -d /tmp/ms
    ttsctl bench model --reference-wheel /tmp/ms/modelscope-1.3.2-py3-none-any.whl

Imports the reference needs at module level but never calls at inference (numba
for monotonic alignment search, pytorch_wavelets and librosa for training-only
discriminators and losses) are stubbed when they are not installed.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import types
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["ReferenceModels", "reference_members"]

_ROOT = "modelscope/models/audio/tts/kantts"
_PACKAGES = (
    "modelscope",
    "modelscope.models",
    "modelscope.models.audio",
    "modelscope.models.audio.tts",
    "modelscope.models.audio.tts.kantts",
    "modelscope.models.audio.tts.kantts.models",
    "modelscope.models.audio.tts.kantts.utils",
)
_STUBS = {
    "numba": ("jit", "njit", "prange"),
    "pytorch_wavelets": ("DWT1DForward",),
    "librosa": (),
}
_DROPOUTS = (
    "encoder_dropout",
    "encoder_attention_dropout",
    "encoder_relu_dropout",
    "predictor_dropout",
    "decoder_dropout",
    "decoder_attention_dropout",
    "decoder_relu_dropout",
    "postnet_dropout",
)


def _passthrough(*args: Any, **kwargs: Any) -> Any:
    """Stands in for a decorator (``@jit`` or ``@jit(...)``) or a class: returns the
    decorated function, or a no-op decorator; never called at inference."""
    return args[0] if args and callable(args[0]) and not kwargs else (lambda f: f)


def _stub(name: str, attrs: tuple[str, ...]) -> None:
    try:
        importlib.import_module(name)
    except ImportError:
        module = types.ModuleType(name)
        for attr in attrs:
            setattr(module, attr, _passthrough)
        sys.modules[name] = module


def reference_members(wheel: Path) -> list[str]:
    """The KAN-TTS files inside ``wheel``; checked before any timing starts.

    Raises:
        SystemExit: No such file, not a zip, or no KAN-TTS inside; the message
            says which wheel to pass.
    """
    if not wheel.is_file():
        raise SystemExit(
            f"--reference-wheel {wheel}: no such file; get one with "
            "pip download modelscope==1.3.2 --no-deps"
        )
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(_ROOT + "/")]
    except zipfile.BadZipFile:
        raise SystemExit(f"--reference-wheel {wheel}: not a wheel (zip) file") from None
    if not members:
        raise SystemExit(f"{wheel} has no {_ROOT}: use a modelscope 1.3.x wheel")
    return members


def _import_from_wheel(wheel: Path, into: Path) -> tuple[Any, Any]:
    """The reference ``KanTtsSAMBERT`` and HiFi-GAN ``Generator`` classes."""
    members = reference_members(wheel)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(into, members)
    for name in _PACKAGES:  # bare packages: their __init__ files never run
        package = types.ModuleType(name)
        package.__path__ = [str(into / name.replace(".", "/"))]
        sys.modules.setdefault(name, package)
    for name, attrs in _STUBS.items():
        _stub(name, attrs)
    sambert = importlib.import_module(f"{_PACKAGES[-2]}.sambert.kantts_sambert")
    hifigan = importlib.import_module(f"{_PACKAGES[-2]}.hifigan.hifigan")
    return sambert.KanTtsSAMBERT, hifigan.Generator


class ReferenceModels:
    """The reference acoustic model and vocoder with the given weights, in eval mode."""

    def __init__(
        self,
        wheel: Path,
        am_config: dict[str, Any],
        am_state: dict[str, torch.Tensor],
        voc_params: dict[str, Any],
        voc_state: dict[str, torch.Tensor],
    ) -> None:
        """``am_config``: our ``SambertConfig`` as a dict (``n_*`` are table sizes);
        ``voc_state``: generator weights with weight norm folded."""
        self._tmp = tempfile.TemporaryDirectory()
        sambert_cls, generator_cls = _import_from_wheel(wheel, Path(self._tmp.name))
        config = {
            k.removeprefix("n_"): list(v) if isinstance(v, tuple) else v
            for k, v in am_config.items()
        }  # the reference concatenates lists
        config.update(
            dict.fromkeys(_DROPOUTS, 0.0), FP=False, using_byte=False, MAS=False
        )
        self.am = sambert_cls(config).eval()
        self.am.load_state_dict(am_state, strict=False)
        self.voc = generator_cls(**voc_params).eval()
        self.voc.remove_weight_norm()  # as KAN-TTS inference does; ours come folded
        self.voc.load_state_dict(voc_state)

    def mel(
        self, ling: torch.Tensor, emotion: torch.Tensor, speaker: torch.Tensor
    ) -> torch.Tensor:
        """[frames, num_mels] for one utterance (ids as our encoder makes them)."""
        with torch.no_grad():
            res = self.am(
                ling[None], emotion[None], speaker[None], torch.tensor([ling.shape[0]])
            )
        frames = int(res["LR_length_rounded"].sum())
        mel: torch.Tensor = res["postnet_outputs"][0, :frames]
        return mel

    def wave(self, mel: torch.Tensor) -> torch.Tensor:
        """Audio samples for mel [frames, num_mels]."""
        with torch.no_grad():
            audio: torch.Tensor = self.voc(mel.T[None]).reshape(-1)
        return audio
