"""Resources of the stack's processes (CPU time, memory, open files, threads)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psutil

from tts_common.stack import LocalStack

__all__ = ["ProcessStat", "parse_pids", "snapshot", "stack_pids"]


@dataclass(frozen=True)
class ProcessStat:
    """One process at one moment."""

    cpu_s: float
    """User plus system CPU seconds since it started."""
    rss_mb: float
    fds: int
    threads: int


def snapshot(pids: Mapping[str, int]) -> dict[str, ProcessStat]:
    """Each named process's figures now (one that has gone is left out)."""
    out = {}
    for name, pid in pids.items():
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            with p.oneshot():
                cpu = p.cpu_times()
                out[name] = ProcessStat(
                    cpu.user + cpu.system,
                    round(p.memory_info().rss / 2**20, 1),
                    p.num_fds(),
                    p.num_threads(),
                )
    return out


def stack_pids(stack: LocalStack) -> Callable[[], dict[str, int]]:
    """The stack's process ids, read afresh each call (a restart changes them)."""
    return lambda: {name: p.popen.pid for name, p in stack.processes.items()}


def parse_pids(text: str) -> dict[str, int]:
    """``gateway=123,vocoder=456`` as a mapping.

    Raises:
        ValueError: A part is not ``name=pid``.
    """
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, pid = part.partition("=")
        if not name or not pid.isdigit():
            raise ValueError(f"--pids takes name=pid,...; got {part!r}")
        out[name] = int(pid)
    return out
