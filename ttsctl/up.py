"""``ttsctl up``: run the whole stack locally until Ctrl-C (or SIGTERM, SIGHUP).

A process that dies is restarted on its address (``LocalStack(supervise=True)``),
and the reason is logged to stderr. The children end with ``ttsctl up``, even when
it is killed (they get SIGTERM as their parent dies). The cache report prices its
savings with the example price table unless ``--price-table`` or
``GATEWAY_PRICE_TABLE`` says otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from tts_common.stack import LocalStack
from ttsctl import up_state

_REPO = Path(__file__).resolve().parents[1]
BUNDLED_VOICES = (_REPO / "voices" / "demo", _REPO / "voices" / "noise_test")
"""Default model dirs, best first: the trained demo voice, then the random-weight one."""
EXAMPLE_PRICES = _REPO / "gateway" / "cache" / "pricing_example.yaml"
"""The price table ``ttsctl up`` gives the gateway by default (list prices)."""


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
    up.add_argument(
        "--price-table",
        default=None,
        help="price table of the cache report's savings (YAML or JSON; 'none' for "
        "none); default: $GATEWAY_PRICE_TABLE, else the example table "
        "gateway/cache/pricing_example.yaml",
    )
    up.add_argument(
        "--price-tier", default=None, help="its tier (default: the table's own)"
    )
    up.add_argument("--startup-timeout", type=float, default=300.0)


def default_model_dir() -> Path:
    for path in BUNDLED_VOICES:
        if (path / "voices" / "voices.json").is_file():
            return path
    raise SystemExit("no bundled voice found under voices/; pass --model-dir")


def price_env(
    table: str | None, tier: str | None, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The gateway's price settings: the flags, else the environment's, else the
    example table; ``none`` turns pricing off."""
    environ = dict(os.environ) if environ is None else environ
    if table is None:
        table = environ.get("GATEWAY_PRICE_TABLE") or str(EXAMPLE_PRICES)
    env = {"GATEWAY_PRICE_TABLE": "" if table.lower() == "none" else table}
    if tier is not None:
        env["GATEWAY_PRICE_TIER"] = tier
    return env


def run_up(args: argparse.Namespace) -> int:
    model_dir = Path(args.model_dir) if args.model_dir else default_model_dir()
    prices = price_env(args.price_table, args.price_tier)
    table = prices["GATEWAY_PRICE_TABLE"]
    if table and not Path(table).is_file():
        print(f"ttsctl up: no price table at {table} (or 'none')", file=sys.stderr)
        return 2
    if model_dir.name == "noise_test":
        print(
            "note: the bundled random-weight test voice produces noise, not speech",
            file=sys.stderr,
        )
    # The supervisor's warnings (a process died, restarted, serving again) on stderr.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    http_port = None if args.http_port < 0 else args.http_port
    stack = LocalStack(
        model_dir,
        gateway_port=args.port,
        http_port=http_port,
        startup_timeout_s=args.startup_timeout,
        log_dir=Path(args.log_dir) if args.log_dir else None,
        supervise=True,
        env=prices,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        first, running = not stop.is_set(), stack.supervisor is not None
        stop.set()
        if first and not running:  # still starting: abandon the start
            raise KeyboardInterrupt

    # SIGHUP: the terminal closed. The children have sessions of their own, so
    # nothing else would stop them.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    print(f"starting the stack with {model_dir} ...", file=sys.stderr)
    try:
        stack.start()
    except (RuntimeError, KeyboardInterrupt) as exc:
        stack.stop()
        if isinstance(exc, KeyboardInterrupt):
            print("stopped while starting", file=sys.stderr)
            return 130
        # A busy port, a process that failed to start: its log tail is in exc.
        print(f"ttsctl up: the stack did not start: {exc}", file=sys.stderr)
        return 1
    state = up_state.state_path()
    try:
        _print_addresses(stack)
        up_state.write(
            state,
            {
                "gateway": stack.gateway_address,
                "http": stack.http_url if "http" in stack.processes else "",
                "redis_url": stack.redis_url,
            },
        )
        while not stop.wait(1.0):
            pass
    finally:
        up_state.clear(state)
        stack.stop()
    print("stopped", file=sys.stderr)
    return 0


def metrics_urls(stack: LocalStack) -> dict[str, str]:
    """Each process's Prometheus endpoint (the bridge serves its own ``/metrics``;
    Redis has none)."""
    urls = {}
    for name, proc in stack.processes.items():
        if name == "http":
            urls[name] = f"{stack.http_url}/metrics"
        elif proc.metrics_port:
            host = proc.address.rsplit(":", 1)[0]
            urls[name] = f"http://{host}:{proc.metrics_port}/metrics"
    return urls


def _print_addresses(stack: LocalStack) -> None:
    """The lines scripts wait for (stdout), the metrics endpoints, then each
    process (stderr)."""
    print(f"gateway listening on {stack.gateway_address}", flush=True)
    if "http" in stack.processes:
        print(f"HTTP API and WebUI on {stack.http_url}/", flush=True)
    for name, url in metrics_urls(stack).items():
        print(f"metrics  {name:9s} {url}", flush=True)
    for name, proc in stack.processes.items():
        print(
            f"  {name:9s} {proc.address}  pid {proc.popen.pid}  log {proc.log_path}",
            file=sys.stderr,
        )
