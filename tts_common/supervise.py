"""Keep a local stack whole: restart a child process that dies, with backoff.

:class:`Supervisor` watches the children of a ``LocalStack`` from one thread. A
child that exits (crash, OOM kill, ``kill -9``) is logged with its exit code or
signal and the tail of its log, then started again with the same command and
environment, so it binds the same address and its callers' settings stay valid.
Restarts back off (0.5 s, doubling to 10 s) while a child keeps dying, and the
backoff resets once it has stayed up for ``stable_s``.

Also here: :func:`die_with_parent`, which makes children end when the process
that started them dies abruptly (``kill -9``), so none are left serving; and
:func:`port_taken` / :func:`owns_listener`, which tell a stack that a port it
means to use, or that answered its readiness check, belongs to someone else.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "Backoff",
    "Restart",
    "Supervisor",
    "die_with_parent",
    "exit_cause",
    "owns_listener",
    "port_taken",
]

_LOGGER = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>: the signal a child gets when its parent thread ends."""


class _Child(Protocol):
    """What the supervisor needs of a stack process (``StackProcess``)."""

    name: str

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def log_tail(self, lines: int = 40) -> str: ...


@dataclass(frozen=True)
class Backoff:
    """Delay before restarting a child that died ``failures`` times in a row."""

    initial_s: float = 0.5
    """Wait before the first restart."""
    max_s: float = 10.0
    """Cap on the wait; it doubles per failure up to this."""
    stable_s: float = 30.0
    """A child up this long has recovered: its next death waits ``initial_s``."""

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th death in a row (1-based)."""
        return float(min(self.initial_s * 2 ** max(failures - 1, 0), self.max_s))


@dataclass
class Restart:
    """One death and restart of a child, as the supervisor saw it."""

    name: str
    cause: str
    """``exit code N`` or ``killed by SIGKILL``."""
    died_at: float
    """``time.monotonic()`` when the death was noticed."""
    restarted_at: float | None = None
    """When the new process was started (None: not yet)."""
    ready_at: float | None = None
    """When the new process first answered its readiness check (None: not yet)."""

    @property
    def recovery_s(self) -> float | None:
        """Seconds from the death to ready again (None while not ready)."""
        return None if self.ready_at is None else self.ready_at - self.died_at


@dataclass
class _Watch:
    """Per-child state: deaths in a row, when it (re)started, the pending restart."""

    failures: int = 0
    started_at: float = 0.0
    restart: Restart | None = None


def exit_cause(returncode: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL`` for a Popen return code."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


class Supervisor:
    """Restarts the children in ``children`` (name -> process) that die.

    Args:
        children: The live mapping the stack keeps; ``relaunch(name)`` must put
            the new process under the same name.
        relaunch: Starts ``name`` again (same command, same address).
        ready: True once a restarted child serves again (its health check).
        backoff: Restart delays.
        poll_s: How often the children are looked at.
    """

    def __init__(
        self,
        children: Mapping[str, _Child],
        relaunch: Callable[[str], None],
        ready: Callable[[str], bool],
        backoff: Backoff | None = None,
        poll_s: float = 0.1,
    ) -> None:
        self._children = children
        self._relaunch, self._ready = relaunch, ready
        self.backoff = backoff or Backoff()
        self._poll_s = poll_s
        self._watch: dict[str, _Watch] = {}
        self.restarts: list[Restart] = []
        """Every death seen, oldest first (the figures a chaos test reports)."""
        self._lock = threading.Lock()
        self._stopping = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin watching (call once every child has started)."""
        now = time.monotonic()
        self._watch = {name: _Watch(started_at=now) for name in self._children}
        self._thread = threading.Thread(
            target=self._run, name="stack-supervisor", daemon=True
        )
        self._thread.start()

    def hold(self) -> None:
        """Restart nothing from now on (the stack is stopping); returns once no
        restart is under way, so every child the caller then stops stays down."""
        with self._lock:
            self._stopping = True

    def close(self) -> None:
        """Stop watching; call after the children were stopped. Children this
        thread restarted get their parent-death signal as it ends, which is
        harmless then (see :func:`die_with_parent`)."""
        self.hold()
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def pending(self) -> list[str]:
        """Children dead or restarted but not ready yet."""
        with self._lock:
            return [n for n, w in self._watch.items() if w.restart is not None]

    def _run(self) -> None:
        while not self._done.wait(self._poll_s):
            # Deaths and due restarts first: a slow readiness check (up to its
            # timeout) must not delay another child's restart.
            for step in (self._look_at, self._check_up):
                for name in list(self._watch):
                    try:
                        step(name)
                    except Exception:  # retried next time; never stop watching
                        _LOGGER.exception("supervising %s failed", name)

    def _look_at(self, name: str) -> None:
        """Notice a death; restart once its backoff has passed."""
        watch, child = self._watch[name], self._children[name]
        now = time.monotonic()
        restart = watch.restart
        if restart is None or restart.restarted_at is not None:
            code = child.poll()
            if code is not None:
                self._died(name, watch, child, code, now)
            return
        if now - restart.died_at >= self.backoff.delay(watch.failures):
            with self._lock:
                if self._stopping:
                    return
                self._relaunch(name)
            restart.restarted_at = watch.started_at = time.monotonic()
            _LOGGER.warning(
                "%s restarted (pid %s, restart %d in a row)",
                name,
                self._children[name].pid,
                watch.failures,
            )

    def _check_up(self, name: str) -> None:
        """A running child: note when a restarted one is ready, reset the backoff."""
        watch, now = self._watch[name], time.monotonic()
        restart = watch.restart
        if restart is not None and restart.restarted_at is None:
            return  # dead, waiting for its restart
        if self._children[name].poll() is not None:
            return  # died since: the next round notices
        if restart is not None and self._ready(name):
            restart.ready_at = time.monotonic()
            with self._lock:
                watch.restart = None
            _LOGGER.warning(
                "%s serving again, %.1f s after it died", name, restart.recovery_s
            )
        if watch.failures and now - watch.started_at >= self.backoff.stable_s:
            watch.failures = 0

    def _died(
        self, name: str, watch: _Watch, child: _Child, code: int, now: float
    ) -> None:
        with self._lock:
            if self._stopping:
                return
            watch.failures += 1
            restart = Restart(name, exit_cause(code), now)
            watch.restart = restart
            self.restarts.append(restart)
        _LOGGER.warning(
            "%s (pid %s) died: %s; restarting in %.1f s; its log ends:\n%s",
            name,
            child.pid,
            restart.cause,
            self.backoff.delay(watch.failures),
            child.log_tail(5),
        )


def die_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` wrapped so that the process gets SIGTERM when its parent dies.

    Linux only (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``); elsewhere
    ``cmd`` unchanged. A small interpreter sets the signal and then ``exec``-s
    ``cmd``, so the child keeps its pid. Not a ``preexec_fn``: that makes
    ``subprocess`` fork the whole parent, whose gRPC fork handlers can break the
    child before it ``exec``-s; without one it uses ``vfork``.

    The signal follows the death of the parent *thread* that started the child,
    so start children from a thread that lives as long as they should (the main
    thread, or the supervisor's, which ends only after the stack has stopped).
    SIGTERM rather than SIGKILL: a service then drains as on any stop.
    """
    if not sys.platform.startswith("linux"):
        return cmd
    return [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), *cmd]


_GUARD = f"""
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl({_PR_SET_PDEATHSIG}, signal.SIGTERM, 0, 0, 0)
if os.getppid() != int(sys.argv[1]):  # the parent died before prctl took effect
    sys.exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def port_taken(ip: str, port: int) -> str | None:
    """Why ``ip:port`` cannot be bound now (e.g. "Address already in use"), or
    None when it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind: a connection in TIME_WAIT is no conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def owns_listener(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` owns a listening TCP socket on ``port`` (in its own
    network namespace); None when /proc cannot tell (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            # local_address is hex "IP:PORT"; state 0A is LISTEN; column 9 the inode.
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False
