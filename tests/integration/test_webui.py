"""The WebUI in headless Chromium against ``ttsctl up`` (real stack, real bridge).

Needs Debian's ``chromium`` (``apt-get install -y chromium``; script/test installs
it when run as root). Playwright (pinned in requirements/test.txt) drives that
system browser: it cannot download its own here. Set ``CHROMIUM`` to use another
binary. The screenshot goes to the test's tmp dir, and to tests/artifacts/webui.png
when ``TTS_ARTIFACTS`` is set.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from playwright.sync_api import Page, Response, sync_playwright

from tests.golden import GOLDEN

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
VOICE = "testvoice_emo"
TEXT = "欢迎使用语音合成服务。今天天气很好，我们一起去公园散步吧。"
_URL_LINE = "HTTP API and WebUI on "
_INSTALL = "apt-get install -y chromium"


@pytest.fixture(scope="module")
def chromium() -> str:
    """The system Chromium; the only skip: without it there is no browser to drive."""
    for candidate in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    pytest.skip(
        f"no Chromium found: install Debian's with `{_INSTALL}` "
        "(script/test does so when run as root) or set CHROMIUM"
    )


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Put each line of ``stream`` on ``lines`` (a reader thread)."""
    for line in stream:
        lines.put(line)


@pytest.fixture(scope="module")
def webui(chromium, tmp_path_factory) -> Iterator[str]:
    """``ttsctl up`` on free ports; yields the WebUI's URL from its log line."""
    log = tmp_path_factory.mktemp("up") / "up.log"
    cmd = [
        sys.executable,
        "-m",
        "ttsctl",
        "up",
        "--port",
        "0",
        "--http-port",
        "0",
        "--model-dir",
        str(GOLDEN / "small_causal"),
        "--startup-timeout",
        "240",
    ]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True
        )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        url = ""
        while not url:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, (
                "ttsctl up printed no URL\n" + log.read_text()
            )
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith(_URL_LINE):
                url = line[len(_URL_LINE) :].strip()
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page(chromium, webui) -> Iterator[Page]:
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(webui)
        page.wait_for_selector("#speak:not([disabled])", timeout=60_000)
        yield page
        browser.close()
    assert not errors, errors


def _text(page: Page, selector: str) -> str:
    """The text content of ``selector``, which must be on the page."""
    text = page.text_content(selector)
    assert text is not None, f"{selector} is not on the page"
    return text


def _speak(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.select_option("#voice", VOICE)
    page.click("#speak")
    page.wait_for_function(
        "['done', 'error'].includes(document.getElementById('status').dataset.state)",
        timeout=120_000,
    )


def test_speak_streams_plays_and_dashboard_counts(page: Page, tmp_path) -> None:
    """Type, pick, Speak: audio arrives, plays, can be downloaded; the dashboard
    shows the cache numbers, and a repeat shows up there as a hit."""
    emotions = page.eval_on_selector_all(
        "#emotion option", "os => os.map(o => o.value)"
    )
    assert emotions[0] == "" and len(emotions) > 1  # the voice's emotions are offered
    _speak(page, TEXT)
    assert page.get_attribute("#status", "data-state") == "done", page.text_content(
        "#status"
    )
    state = page.evaluate("window.ttsState")
    assert state["bytes"] > 24000 * 2 and state["samples"] * 2 == state["bytes"]
    assert state["firstAudioMs"] is not None
    page.wait_for_function(
        "document.getElementById('player').duration > 1", timeout=30_000
    )
    href = page.get_attribute("#download", "href")
    assert href and href.startswith("blob:")
    _speak(page, TEXT)  # the same sentences again: served from the cache
    page.wait_for_function(
        "document.body.dataset.cacheLoaded === 'true' && "
        "Number(document.getElementById('stat-hits').textContent) >= 2",
        timeout=30_000,
    )
    assert float(_text(page, "#stat-misses")) >= 2
    assert _text(page, "#stat-hit-rate").strip().endswith("%")
    assert page.locator("#top tbody tr").count() >= 1
    shot = tmp_path / "webui.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("TTS_ARTIFACTS"):
        target = REPO / "tests" / "artifacts" / "webui.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, target)


def test_errors_are_shown(page: Page) -> None:
    """A request the bridge refuses shows its message, not a silent failure."""
    _speak(page, "   ")
    assert page.get_attribute("#status", "data-state") == "error"
    assert "input is missing or empty" in _text(page, "#status")


def _is_speech(response: Response) -> bool:
    request = response.request
    return request.url.endswith("/v1/audio/speech") and request.method == "POST"


def _set_pitch(page: Page, semitones: int) -> None:
    """Move the pitch slider as a user does (its value, then an input event)."""
    page.eval_on_selector(
        "#pitch",
        f"el => {{ el.value = '{semitones}'; el.dispatchEvent(new Event('input')); }}",
    )


def _sent(response: Response) -> dict[str, Any]:
    """The JSON body the page sent for ``response``."""
    body = response.request.post_data_json
    assert isinstance(body, dict), body
    return body


def _post_sse(page_url: str, body: dict[str, Any]) -> bytes:
    """The audio of ``body`` posted to the page's bridge, as an SSE answer."""
    request = urllib.request.Request(
        urllib.parse.urljoin(page_url, "/v1/audio/speech"),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return _sse_audio(response.read())


def _sse_audio(data: bytes) -> bytes:
    """The audio of a ``stream_format: "sse"`` body's delta events."""
    events = [json.loads(b[len("data: ") :]) for b in data.decode().split("\n\n") if b]
    deltas = [e["audio"] for e in events if e["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done"
    return b"".join(base64.b64decode(d) for d in deltas)


_WORDS = "els => els.map(e => [e.textContent, +e.dataset.start, +e.dataset.end])"
_LIT = "document.querySelector('#words .word.spoken')"


def test_words_light_up_as_spoken_and_pitch_is_sent(page: Page) -> None:
    """The pitch slider's value goes out in the request; the sentences' words come
    back with their timings and are shown; the word lit is the one whose span
    holds the audio's current time, where it is moved to and while it plays."""
    _set_pitch(page, 5)
    assert _text(page, "#pitch-value") == "+5 semitones"
    with page.expect_response(_is_speech) as shifted:
        _speak(page, TEXT)
    assert page.get_attribute("#status", "data-state") == "done", _text(page, "#status")
    body = _sent(shifted.value)
    assert body["pitch_semitones"] == 5
    assert body["stream_format"] == "sse" and body["timings"] is True
    _set_pitch(page, 0)
    with page.expect_response(_is_speech) as plain:
        _speak(page, TEXT)
    assert _sent(plain.value)["pitch_semitones"] == 0
    # The shift reached the model: the page's two requests, sent again from here
    # (a browser may drop a streamed body before a test can read it), give other
    # audio (pitch is in the cache key too).
    shifted_audio = _post_sse(page.url, body)
    assert shifted_audio != _post_sse(page.url, _sent(plain.value))
    words = page.eval_on_selector_all("#words .word", _WORDS)
    # Every word of both sentences, in order, punctuation left as plain text.
    assert "".join(w for w, _, _ in words) == TEXT.replace("。", "").replace("，", "")
    assert _text(page, "#words") == TEXT
    assert len(words) >= 8
    starts = [start for _, start, _ in words]
    assert starts == sorted(starts) and all(s < e for _, s, e in words)
    duration = page.evaluate("window.ttsState.samples") / 24000
    assert words[-1][2] <= duration + 1e-3
    page.wait_for_function(
        "document.getElementById('player').duration > 1", timeout=30_000
    )

    # Moved to the middle of a word (paused): that word, and only it, is lit.
    text, start, end = words[3]
    page.eval_on_selector("#player", f"p => {{ p.currentTime = {(start + end) / 2}; }}")
    page.wait_for_function(f"{_LIT} && {_LIT}.textContent === {text!r}")
    assert page.locator("#words .word.spoken").count() == 1

    # Playing: the lit word follows the audio, word after word.
    page.evaluate("""() => {
      window.litWords = [];
      new MutationObserver(() => {
        const w = document.querySelector('#words .word.spoken');
        if (w && window.litWords.at(-1) !== w.dataset.start) {
          window.litWords.push(w.dataset.start);
        }
      }).observe(document.getElementById('words'),
                 { subtree: true, attributes: true, attributeFilter: ['class'] });
      const p = document.getElementById('player');
      p.currentTime = 0;
      return p.play();
    }""")
    page.wait_for_function(
        "(() => { const p = document.getElementById('player'); const w = "
        + _LIT
        + "; return !p.paused && w && +w.dataset.start <= p.currentTime"
        " && p.currentTime < +w.dataset.end; })()",
        timeout=30_000,
    )
    page.wait_for_function("window.litWords.length >= 3", timeout=30_000)
    lit = [float(s) for s in page.evaluate("window.litWords")]
    assert lit == sorted(lit) and len(set(lit)) == len(lit)
