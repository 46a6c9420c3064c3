"""Cache-report windows: the window asked in whole minutes (600 s asked, 600 read),
every minute of it read exactly once, whole hours from hour buckets (only where
those cover the hour), the work bounded."""

from __future__ import annotations

import math

import pytest

from gateway.cache.windows import window_buckets

NOW = 1_700_000_000.0  # minute 28_333_333, in the middle of an hour
_DAY = 86_400


def _minutes(hashes: list[str]) -> list[int]:
    """The minutes the buckets cover, in order."""
    out: list[int] = []
    for name in hashes:
        kind, value = name.split(":")
        start = int(value) * (60 if kind == "h" else 1)
        out.extend(range(start, start + (60 if kind == "h" else 1)))
    return out


@pytest.mark.parametrize("window_s", [1, 59, 60, 3599, 3600, 7300, _DAY, 30 * _DAY])
def test_each_minute_once_and_hours_where_whole(window_s: int) -> None:
    window = window_buckets(NOW, window_s, hours_from=0)
    last = int(NOW // 60)
    first = last - math.ceil(window_s / 60) + 1
    assert _minutes(window.hashes) == list(range(first, last + 1))
    assert window.seconds == (last - first + 1) * 60 == math.ceil(window_s / 60) * 60
    assert [h.replace("m:", "") for h in window.hashes] == window.ranks
    assert len(window.hashes) <= 59 + 59 + window_s // 3600 + 2


@pytest.mark.parametrize("now", [NOW, NOW + 0.5, NOW + 59.9, 1_700_000_040.0])
def test_the_window_reported_is_the_window_asked(now: float) -> None:
    """600 s asked: ten minutes read and 600 s reported, wherever in its minute the
    report runs (it was 660 whenever ``now`` was not on a minute boundary)."""
    window = window_buckets(now, 600, hours_from=None)
    assert window.seconds == 600 and len(window.hashes) == 10
    assert window.hashes[-1] == f"m:{int(now // 60)}"  # the minute under way
    assert window_buckets(now, 3600, hours_from=None).seconds == 3600
    assert window_buckets(now, 90, hours_from=None).seconds == 120  # rounded up


def test_a_30_day_window_reads_about_840_buckets_not_43200() -> None:
    window = window_buckets(NOW, 30 * _DAY, hours_from=0)
    assert 700 < len(window.hashes) <= 840
    assert sum(h.startswith("h:") for h in window.hashes) >= 718


def test_hours_before_hour_buckets_existed_are_read_by_minute() -> None:
    since = int(NOW // 60) - 3 * 60 - 30  # hour buckets began 3.5 hours ago
    window = window_buckets(NOW, _DAY, hours_from=since)
    hours = [int(h[2:]) * 60 for h in window.hashes if h.startswith("h:")]
    assert hours and min(hours) >= since and len(hours) in (2, 3)
    assert _minutes(window.hashes) == list(
        range(int(NOW // 60) - _DAY // 60 + 1, int(NOW // 60) + 1)
    )
    only_minutes = window_buckets(NOW, _DAY, hours_from=None)
    assert all(h.startswith("m:") for h in only_minutes.hashes)
