"""``ttsctl bench load``'s figures: the player's stalls, per-level summaries, the
table and the plot."""

from __future__ import annotations

from pathlib import Path

from ttsctl.load_calls import Player, StreamResult
from ttsctl.load_plot import plot
from ttsctl.load_report import level_summary, to_markdown


def test_the_player_counts_audio_running_out_as_stalls() -> None:
    player = Player(start=0.0)
    player.arrived(1.0, now=0.5)  # first audio at 0.5 s; plays until 1.5
    player.arrived(1.0, now=1.2)  # in time: plays until 2.5
    player.arrived(0.5, now=3.0)  # 0.5 s of silence first; plays until 3.5
    player.arrived(0.0, now=9.0)  # an empty chunk is no audio and no stall
    player.arrived(0.5, now=3.2)
    assert player.first == 0.5
    assert player.stalls == 1
    assert abs(player.max_stall_s - 0.5) < 1e-9
    assert player.audio_s == 3.0


def _result(code: str, elapsed: float, first: float | None, stall: float = 0.0,
            complete: bool = True) -> StreamResult:  # fmt: skip
    return StreamResult(code, 0.0, elapsed, first, 2.0 if complete else 0.0, stall,
                        int(stall > 0), complete)  # fmt: skip


def test_a_level_summary_separates_goodput_from_throughput() -> None:
    results = [
        _result("OK", 1.0, 0.2),
        _result("OK", 12.0, 0.3, stall=0.4),  # finished, but after the deadline
        _result("RESOURCE_EXHAUSTED", 0.004, None, complete=False),
        _result("OK", 1.0, 0.2, complete=False),  # no last chunk: not counted done
    ]
    summary = level_summary(results, wall_s=10.0, deadline_s=10.0)
    assert summary["requests_per_s"] == 0.2
    assert summary["goodput_per_s"] == 0.1
    assert summary["audio_s_per_s"] == 0.4
    assert summary["stalls"] == 1 and summary["requests_with_stalls"] == 1
    assert summary["codes"] == {"OK": 3, "RESOURCE_EXHAUSTED": 1}
    assert summary["incomplete_ok"] == 1
    assert summary["refusal_s"]["p99"] == 0.004


def test_the_table_and_the_plot_are_written(tmp_path: Path) -> None:
    levels = []
    for callers in (1, 2, 4):
        level = level_summary([_result("OK", 1.0, 0.1 * callers)], 5.0, 10.0)
        level.update(
            concurrency=callers,
            processes={"vocoder": {"cpu_cores": 1.5, "peak_rss_mb": 300.0}},
        )
        levels.append(level)  # fmt: skip
    settings = {"target": "gateway", "address": "127.0.0.1:1"}
    table = to_markdown(settings, levels)
    assert "| 4 | 0.20 | 0.20 | 0.40 | 400 |" in table
    assert "vocoder 1.50 (300)" in table
    path = tmp_path / "load.png"
    plot(settings, levels, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
