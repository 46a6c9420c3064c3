"""The local stack's supervision pieces, without models: restart with backoff, the
parent-death signal, busy ports and who owns a listener."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tts_common.stack import LocalStack
from tts_common.supervise import (
    Backoff,
    Supervisor,
    exit_cause,
    owns_listener,
    port_taken,
)

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="prctl and /proc are Linux's"
)


class FakeChild:
    """A stack process as the supervisor sees it; ``code`` set = it died."""

    def __init__(self, name: str, pid: int) -> None:
        self.name, self.pid = name, pid
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code

    def log_tail(self, lines: int = 40) -> str:
        return "last words"


def wait_for(condition, what: str, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, f"{what}: not within {timeout_s} s"
        time.sleep(0.01)


def test_backoff_doubles_to_its_cap() -> None:
    delays = [Backoff(0.5, 10.0).delay(n) for n in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_exit_cause_names_the_signal() -> None:
    assert exit_cause(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_cause(3) == "exit code 3"


def test_dead_child_is_restarted_with_backoff_and_logged(caplog) -> None:
    """Each death is logged with its cause; restarts wait longer while the child
    keeps dying; a restarted child counts as recovered once ready."""
    children = {"vocoder": FakeChild("vocoder", 100)}
    ready = {"vocoder": False}
    started: list[float] = []

    def relaunch(name: str) -> None:
        started.append(time.monotonic())
        children[name] = FakeChild(name, children[name].pid + 1)

    supervisor = Supervisor(
        children, relaunch, lambda name: ready[name], Backoff(0.05, 0.2), poll_s=0.01
    )
    supervisor.start()
    try:
        for _ in range(3):  # dies at once, three times in a row
            children["vocoder"].code = -signal.SIGKILL
            count = len(started)
            wait_for(lambda c=count: len(started) > c, "a restart")
        ready["vocoder"] = True
        wait_for(lambda: not supervisor.pending(), "ready again")
    finally:
        supervisor.close()
    restarts = supervisor.restarts
    assert [r.cause for r in restarts] == ["killed by SIGKILL"] * 3
    waits = [r.restarted_at - r.died_at for r in restarts]  # type: ignore[operator]
    assert waits[0] >= 0.05 and waits[1] >= 0.1 and waits[2] >= 0.2
    assert restarts[-1].ready_at is not None and restarts[0].ready_at is None
    assert "vocoder (pid 100) died: killed by SIGKILL" in caplog.text
    assert "last words" in caplog.text
    assert "vocoder serving again" in caplog.text


def test_nothing_is_restarted_once_held() -> None:
    children = {"frontend": FakeChild("frontend", 1)}
    relaunched: list[str] = []
    supervisor = Supervisor(
        children, relaunched.append, lambda _: True, Backoff(0.0), poll_s=0.01
    )
    supervisor.start()
    supervisor.hold()  # the stack is stopping: its children exit
    children["frontend"].code = 0
    time.sleep(0.1)
    supervisor.close()
    assert relaunched == [] and supervisor.restarts == []


@linux_only
def test_children_die_with_their_parent() -> None:
    """kill -9 of the process that started a child: the child gets SIGTERM."""
    script = (
        "import subprocess, sys, time\n"
        "from tts_common.supervise import die_with_parent\n"
        "child = subprocess.Popen(die_with_parent(['sleep', '60']),\n"
        "                         start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        cmdline = Path(f"/proc/{child}/cmdline")
        wait_for(lambda: cmdline.read_bytes().startswith(b"sleep"), "the exec")
    finally:
        parent.kill()
        parent.wait()
    wait_for(lambda: not _alive(child), "the orphan's end", timeout_s=5)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended (init reaps it)


def test_busy_port_is_reported_before_anything_starts(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert port_taken("127.0.0.1", port)
        stack = LocalStack(tmp_path, gateway_port=port, log_dir=tmp_path)
        start = time.monotonic()
        with pytest.raises(
            RuntimeError, match=f"gateway port 127.0.0.1:{port} is in use"
        ):
            stack.start()
        assert time.monotonic() - start < 1.0
        assert stack.processes == {}  # not even Redis was started
    assert port_taken("127.0.0.1", port) is None


def test_ttsctl_up_on_a_busy_port_fails_fast_and_clearly() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cmd = [sys.executable, "-m", "ttsctl", "up", "--port", str(port),
               "--http-port", "-1", "--model-dir", "voices/noise_test"]  # fmt: skip
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "gateway listening" not in done.stdout
    assert f"gateway port 127.0.0.1:{port} is in use" in done.stderr


@linux_only
def test_owner_of_a_listener() -> None:
    """A readiness answer counts only when our child holds the port."""
    with socket.socket() as ours:
        ours.bind(("127.0.0.1", 0))
        ours.listen()
        port = ours.getsockname()[1]
        assert owns_listener(os.getpid(), port) is True
        other = subprocess.Popen(["sleep", "30"])
        try:
            assert owns_listener(other.pid, port) is False
        finally:
            other.kill()
            other.wait()
