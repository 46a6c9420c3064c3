"""The WebUI in headless Chromium against ``ttsctl up`` (real stack, real bridge).

Needs Debian's ``chromium`` (``apt-get install -y chromium``; script/test installs
it when run as root). Playwright (pinned in requirements/test.txt) drives that
system browser: it cannot download its own here. Set ``CHROMIUM`` to use another
binary. The screenshot goes to the test's tmp dir, and to tests/artifacts/webui.png
when ``TTS_ARTIFACTS`` is set.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.sync_api import Page, sync_playwright

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
