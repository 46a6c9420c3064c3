"""The overload bench's verdicts follow its figures (``ttsctl.overload_report``)."""

from __future__ import annotations

from ttsctl.overload_report import Call, Sample, percentile, summarize, to_markdown


def _calls(*, late: bool = False, slow_cached: bool = False) -> list[Call]:
    calls = [Call("uncached", "OK", i, 3.0, 0.5, True) for i in range(5)]
    calls += [Call("uncached", "RESOURCE_EXHAUSTED", i, 0.004, None, False)
              for i in range(50)]  # fmt: skip
    calls += [Call("cached", "OK", i, 0.2 if slow_cached else 0.01, 0.01, True)
              for i in range(100)]  # fmt: skip
    if late:
        calls.append(Call("uncached", "DEADLINE_EXCEEDED", 3, 10.0, 1.0, False))
    return calls


def _samples(end_rss: float, end_threads: int = 20) -> list[Sample]:
    return [
        Sample(0, "gateway", 80, 30, 20),
        Sample(30, "gateway", 100, 30, 20),
        Sample(600, "gateway", end_rss, 30, end_threads),
    ]


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile(list(range(1, 101)), 0.99) == 99


def test_a_clean_run_holds_every_goal() -> None:
    summary = summarize(_calls(), _samples(105), deadline_s=10, warmup_s=20)
    assert summary["verdict"]["all_held"]
    assert summary["uncached_by_code"] == {"OK": 5, "RESOURCE_EXHAUSTED": 50}
    assert summary["processes"]["gateway"]["rss_growth"] == 0.05
    assert "| gateway | 80 | 100 | 105 |" in to_markdown({"callers": 64}, summary)


def test_each_broken_goal_shows() -> None:
    late = summarize(_calls(late=True), [], 10, 20)["verdict"]
    assert not late["admitted_finish_in_deadline"] and not late["all_held"]
    slow = summarize(_calls(slow_cached=True), [], 10, 20)["verdict"]
    assert not slow["cached_fast"] and slow["refusals_fast"]
    grown = summarize(_calls(), _samples(111), 10, 20)["verdict"]
    assert not grown["memory_flat"]
    threads = summarize(_calls(), _samples(100, end_threads=21), 10, 20)["verdict"]
    assert not threads["no_fd_or_thread_growth"] and threads["memory_flat"]
