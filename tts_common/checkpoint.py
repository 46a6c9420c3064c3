"""Safe checkpoint reading for the model adapters (imports torch; servicers never do).

Checkpoints are opened with ``weights_only=True``, so no code from a file ever runs.
Every failure is a :class:`ModelLoadError` that names the file and the first keys
that do not fit, so an operator knows which download is broken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from tts_common.errors import ModelLoadError

__all__ = [
    "dig",
    "fold_weight_norm",
    "load_checkpoint",
    "match_state_dict",
    "to_float32",
]

_SHOW = 5
_PARAMETRIZED = re.compile(r"^(.*)\.parametrizations\.weight\.original([01])$")


def load_checkpoint(path: Path) -> Any:
    """``torch.load`` on CPU with ``weights_only=True``; any failure names the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: checkpoint missing") from None
    except Exception as exc:  # torch raises many types for corrupt/truncated files
        raise ModelLoadError(
            f"{path}: cannot read checkpoint (corrupt, truncated or not a weights-only "
            f"torch file): {type(exc).__name__}: {str(exc)[:200]}"
        ) from None


def dig(obj: Any, path: Path, *keys: str) -> dict[str, torch.Tensor]:
    """``obj[k1][k2]...`` as a tensor dict, or a load error naming the missing key."""
    for key in keys:
        if not isinstance(obj, Mapping) or key not in obj:
            have = (
                sorted(obj)[:_SHOW] if isinstance(obj, Mapping) else type(obj).__name__
            )
            raise ModelLoadError(f"{path}: no {key!r} entry in checkpoint (has {have})")
        obj = obj[key]
    if not isinstance(obj, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in obj.values()
    ):
        raise ModelLoadError(f"{path}: {'/'.join(keys)} is not a state dict of tensors")
    return dict(obj)


def to_float32(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors (fp16, bf16, fp64) as float32; others unchanged."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def fold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace ``weight_g``/``weight_v`` pairs (old or parametrized names) by ``weight``.

    ``weight = g * v / ||v||`` with the norm over every dim but 0, which is what
    ``remove_weight_norm`` computes.
    """
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        m = _PARAMETRIZED.match(key)
        if m:
            pairs.setdefault(m.group(1), {})["gv"[int(m.group(2))]] = value
        elif key.endswith((".weight_g", ".weight_v")):
            pairs.setdefault(key[: -len(".weight_g")], {})[key[-1]] = value
        else:
            out[key] = value
    for prefix, gv in pairs.items():
        if set(gv) != {"g", "v"}:
            raise ModelLoadError(f"weight norm of {prefix!r} lacks its g or v tensor")
        v = gv["v"]
        norm = v.norm(dim=tuple(range(1, v.dim())), keepdim=True)
        out[prefix + ".weight"] = gv["g"] * (v / norm)
    return out


def match_state_dict(
    path: Path,
    module: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    computed: Iterable[str] = (),
) -> None:
    """Load ``state`` into ``module`` strictly, or fail naming the offending keys.

    Keys in ``computed`` (fixed tables such as positions) may be absent from the
    file; the module's own deterministic values are kept then.
    """
    expected = module.state_dict()
    optional = set(computed)
    missing = [k for k in expected if k not in state and k not in optional]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing[:_SHOW]} ({len(missing)} in all)")
    if unexpected:
        problems.append(
            f"unexpected keys {unexpected[:_SHOW]} ({len(unexpected)} in all)"
        )
    if wrong:
        problems.append(f"wrong shapes {wrong[:_SHOW]} ({len(wrong)} in all)")
    if problems:
        raise ModelLoadError(
            f"{path}: checkpoint does not fit the config: " + "; ".join(problems)
        )
    merged = dict(expected)
    merged.update(state)
    module.load_state_dict(merged, strict=True)
