"""ttsctl and every process's metrics on the real stack (LocalStack, real Redis),
as ``ttsctl up`` runs it: the example price table, one metrics URL per service."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import soundfile as sf
from prometheus_client.parser import text_string_to_metric_families

from tests.golden import GOLDEN
from tts_common.metrics import package_version
from tts_common.stack import LocalStack
from ttsctl.up import metrics_urls, price_env

pytestmark = pytest.mark.slow
VOICE = "testvoice_emo"
_REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack():
    env = price_env(None, None, {})  # what `ttsctl up` gives the gateway by default
    with LocalStack(GOLDEN / "small_causal", startup_timeout_s=240, http_port=0,
                    env=env) as running:  # fmt: skip
        yield running


def _scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    # A stage busy synthesizing on a loaded machine may answer a scrape slowly.
    text = urllib.request.urlopen(url, timeout=60).read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return float(samples.get((name, frozenset(labels.items())), 0.0))


def _ttsctl(
    stack, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``python -m ttsctl`` pointed at the stack by ``TTS_SERVER`` alone."""
    path = os.pathsep.join([str(_REPO), str(_REPO / "protos" / "gen")])
    env = {**os.environ, "PYTHONPATH": path, "TTS_SERVER": stack.gateway_address}
    return subprocess.run(
        [sys.executable, "-m", "ttsctl", *args], input=stdin, capture_output=True,
        timeout=180, cwd=_REPO, env=env,
    )  # fmt: skip


def test_every_service_exports_process_and_build_info(stack) -> None:
    urls = metrics_urls(stack)
    assert set(urls) == {"frontend", "acoustic", "vocoder", "gateway", "http"}
    for name, url in urls.items():
        samples = _scrape(url)
        assert _value(samples, "process_resident_memory_bytes") > 0, name
        assert _value(samples, "process_cpu_seconds_total") > 0, name
        labels = {"service": name, "version": package_version()}
        assert _value(samples, "tts_build_info", **labels) == 1, name
    gateway = _scrape(urls["gateway"])
    voices = [dict(k[1]) for k in gateway if k[0] == "tts_voice_info"]
    assert [v["voice"] for v in voices] == [VOICE]
    assert all(len(v[f"{s}_revision"]) >= 64 for v in voices
               for s in ("acoustic", "vocoder", "frontend"))  # fmt: skip


def test_say_from_stdin_to_stdout_then_cached_and_no_cache(stack) -> None:
    """Audio seconds and characters count as computed, then cached; an RTF is
    recorded for each request the models made (the first and --no-cache)."""
    url = metrics_urls(stack)["gateway"]
    before = _scrape(url)
    text = "今天天气很好。".encode()
    first = _ttsctl(stack, "say", "-", "-o", "-", stdin=text)
    assert first.returncode == 0, first.stderr
    audio, rate = sf.read(io.BytesIO(first.stdout), dtype="int16")
    assert rate == 16000 and len(audio) > 4000
    again = _ttsctl(stack, "say", "-", "-o", "-", "--format", "flac", stdin=text)
    assert again.returncode == 0, again.stderr
    fresh = _ttsctl(stack, "say", "-", "-o", "-", "--no-cache", stdin=text)
    assert fresh.returncode == 0, fresh.stderr
    assert len(fresh.stdout) == len(first.stdout)
    after = _scrape(url)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    seconds = len(audio) / rate
    computed = {"voice": VOICE, "cached": "false"}
    cached = {"voice": VOICE, "cached": "true"}
    made = grew("tts_audio_seconds_total", **computed)
    assert made == pytest.approx(2 * seconds, abs=0.01)
    assert grew("tts_audio_seconds_total", **cached) == pytest.approx(seconds, abs=0.01)
    assert grew("tts_characters_total", **cached) >= len("今天天气很好")
    assert grew("tts_real_time_factor_count", voice=VOICE) == 2
    assert grew("tts_real_time_factor_sum", voice=VOICE) > 0


def test_bridge_metrics_count_speech_by_status(stack) -> None:
    url = metrics_urls(stack)["http"]
    assert url == f"{stack.http_url}/metrics"
    for voice, status in ((VOICE, 200), ("nobody", 404)):
        body = json.dumps({"input": "你好。", "response_format": "wav", "voice": voice})
        request = urllib.request.Request(
            f"{stack.http_url}/v1/audio/speech", data=body.encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                got = reply.status
                reply.read()
        except urllib.error.HTTPError as err:
            got = err.code
        assert got == status
    samples = _scrape(url)
    route = {"route": "/v1/audio/speech", "method": "POST"}
    assert _value(samples, "http_requests_total", status="200", **route) >= 1
    assert _value(samples, "http_requests_total", status="404", **route) >= 1
    assert _value(samples, "http_request_duration_seconds_count", **route) >= 2


def test_cache_report_window_and_money_as_asked(stack) -> None:
    """600 s asked, 600 s reported (not 660); money priced by the example table."""
    done = _ttsctl(stack, "cache-report", "--window", "600", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["window_s"] == 600
    assert report["overall"]["currency"] == "USD"
