"""``ttsctl up``: run the whole stack locally until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tts_common.stack import LocalStack

_REPO = Path(__file__).resolve().parents[1]
BUNDLED_VOICES = (_REPO / "voices" / "demo", _REPO / "voices" / "noise_test")
"""Default model dirs, best first: the trained demo voice, then the random-weight one."""


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    up = sub.add_parser(
        "up", help="start Redis, the four services and the HTTP bridge on this machine"
    )
    up.add_argument("--port", type=int, default=50050, help="gateway port")
    up.add_argument(
        "--http-port",
        type=int,
        default=8080,
        help="HTTP API and WebUI port (0 = a free one, -1 = no bridge)",
    )
    up.add_argument(
        "--model-dir",
        default=None,
        help="ModelScope-layout model directory (default: the bundled voice)",
    )
    up.add_argument("--log-dir", default=None, help="keep each process's log here")
    up.add_argument("--startup-timeout", type=float, default=300.0)


def default_model_dir() -> Path:
    for path in BUNDLED_VOICES:
        if (path / "voices" / "voices.json").is_file():
            return path
    raise SystemExit("no bundled voice found under voices/; pass --model-dir")


def run_up(args: argparse.Namespace) -> int:
    model_dir = Path(args.model_dir) if args.model_dir else default_model_dir()
    if model_dir.name == "noise_test":
        print(
            "note: the bundled random-weight test voice produces noise, not speech",
            file=sys.stderr,
        )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    http_port = None if args.http_port < 0 else args.http_port
    stack = LocalStack(
        model_dir,
        gateway_port=args.port,
        http_port=http_port,
        startup_timeout_s=args.startup_timeout,
        log_dir=Path(args.log_dir) if args.log_dir else None,
    )
    print(f"starting the stack with {model_dir} ...", file=sys.stderr)
    with stack:
        print(f"gateway listening on {stack.gateway_address}", flush=True)
        if http_port is not None:
            print(f"HTTP API and WebUI on {stack.http_url}/", flush=True)
        for name, proc in stack.processes.items():
            print(
                f"  {name:9s} {proc.address}  pid {proc.popen.pid}  log {proc.log_path}",
                file=sys.stderr,
            )
        while not stop.wait(1.0):
            for proc in stack.processes.values():
                if proc.popen.poll() is not None:
                    print(
                        f"{proc.name} exited ({proc.popen.returncode}); stopping:\n"
                        f"{proc.log_tail()}",
                        file=sys.stderr,
                    )
                    return 1
    print("stopped", file=sys.stderr)
    return 0
