"""Vocoder precision (``VOCODER_DTYPE``): names, defaults and revision tags (no torch).

The dtype changes the audio (by tenths of a dB of spectrum, see README), so it
is part of the revision the gateway's cache keys on: replicas of different precision
never share cache entries. float32 adds nothing, so caches made before the setting
existed stay valid.
"""

from __future__ import annotations

__all__ = [
    "DTYPES",
    "default_dtype",
    "dtype_advice",
    "dtype_problem",
    "tagged_revision",
]

DTYPES = ("float32", "float16", "bfloat16")
"""Accepted ``VOCODER_DTYPE`` values."""

_TAGS = {"float32": "", "float16": "+fp16", "bfloat16": "+bf16"}


def _is_cuda(device: str) -> bool:
    return device.split(":", 1)[0] == "cuda"


def default_dtype(device: str) -> str:
    """float16 on CUDA (tensor cores, and the widest support there); float32 elsewhere."""
    return "float16" if _is_cuda(device) else "float32"


def dtype_problem(device: str, dtype: str) -> str | None:
    """Why ``dtype`` cannot serve on ``device``, or None when it can."""
    if dtype not in DTYPES:
        return f"dtype {dtype!r} is not one of {', '.join(DTYPES)}"
    return None


def dtype_advice(device: str, dtype: str) -> str | None:
    """A warning for a dtype that runs on ``device`` but slowly, or None."""
    if dtype == "float16" and not _is_cuda(device):
        # It runs (oneDNN), but CPUs without float16 arithmetic convert every op:
        # 4-8x the float32 time on an AVX512-BF16 EPYC, where bfloat16 took 0.55x.
        return (
            "float16 on CPU is usually slower than float32; bfloat16 is the fast "
            "reduced precision on CPUs with AVX512-BF16 or AMX"
        )
    return None


def tagged_revision(revision: str, dtype: str) -> str:
    """``revision`` with the dtype's tag (``+bf16``, ``+fp16``; nothing for float32).

    Raises:
        ValueError: ``dtype`` is not one of :data:`DTYPES`.
    """
    if dtype not in _TAGS:
        raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return revision + _TAGS[dtype]
