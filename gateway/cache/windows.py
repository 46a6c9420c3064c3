"""Which counter buckets a cache-report window reads: hours where it can, minutes at
the edges, so a 30-day window reads about 840 buckets instead of 43,200."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Window", "window_buckets"]


@dataclass(frozen=True)
class Window:
    """The buckets covering one report window."""

    hashes: list[str]
    """Suffixes of the counter hashes to add up: ``m:<minute>`` or ``h:<hour>``."""
    ranks: list[str]
    """Suffixes of the rank sorted sets to add up: ``<minute>`` or ``h:<hour>``."""
    seconds: int
    """Seconds covered: the minutes read x 60, the window asked rounded up to whole
    minutes (600 asked, 600 read)."""


def window_buckets(now_s: float, window_s: int, hours_from: int | None) -> Window:
    """The buckets of the last ``ceil(window_s / 60)`` minutes, the current one
    included (it is counting now, so its part still to come holds nothing yet).

    Minute buckets are the finest there are, so a window is read in whole minutes:
    the minute under way and the minutes before it, as many as the window asked
    for, rounded up. (Reading every minute that ``[now_s - window_s, now_s]``
    touches would read one more minute whenever ``now_s`` is not on a minute
    boundary: 660 s for 600 asked.)

    An hour lying wholly inside the window is read from its hour bucket when hour
    buckets were written for all of it (it starts at or after ``hours_from``, the
    first minute counted into hour buckets; None = none yet); other minutes, at the
    edges or from before hour buckets existed, from their minute buckets.
    """
    last = int(now_s // 60)
    first = last - math.ceil(window_s / 60) + 1
    hashes, ranks = [], []
    minute = first
    while minute <= last:
        whole_hour = minute % 60 == 0 and minute + 59 <= last
        if whole_hour and hours_from is not None and minute >= hours_from:
            hour = minute // 60
            hashes.append(f"h:{hour}")
            ranks.append(f"h:{hour}")
            minute += 60
        else:
            hashes.append(f"m:{minute}")
            ranks.append(str(minute))
            minute += 1
    return Window(hashes, ranks, (last - first + 1) * 60)
