"""Chaos on the real local stack: under a bounded load, kill -9 each stage and then
Redis, one at a time. The supervised stack (``ttsctl up``'s) restarts each on its
address; meanwhile cached requests keep succeeding, uncached ones succeed or fail
fast with UNAVAILABLE, no audio comes back short without an error status, and the
stack is whole again within seconds. The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from sambert_tts_protos.v1 import (
    audio_pb2,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
)
from tts_common.stack import LocalStack, health_status
from tts_common.supervise import Restart

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "voices" / "noise_test"
STACK_ENV = {"ACOUSTIC_TORCH_THREADS": "1", "VOCODER_TORCH_THREADS": "1"}
"""One torch thread per model process: the machine may have two cores."""
CACHED = ("今天天气很好。", "我们一起去公园散步吧。", "明天早上八点出发。")
"""Requested once before the load: served from Redis while a stage is down."""
UNCACHED = ("这儿的风景真美啊。", "你到底想怎么样？", "一会儿去哪儿看花儿。")
"""Always requested with ``no_cache``: they need every stage."""
VICTIMS = ("frontend", "acoustic", "vocoder", "redis")
CALLERS = 3
DEADLINE_S = 10.0
FAIL_FAST_S = 3.0
"""A failed call must end this soon: refused, not left waiting on a dead stage."""
REUSE_S = 1.0
"""A restarted stage takes calls again this soon after it reports SERVING."""
RECOVERY_S = 15.0
"""From the kill to a fresh request succeeding again (restart, load, warm-up)."""
SETTLE_S = 1.0
"""Load kept running after each recovery, before the next kill."""


@dataclass(frozen=True)
class Outcome:
    """One call of the load."""

    phase: str
    """The process killed last (``steady`` before the first kill)."""
    text: str
    cached: bool
    stream: bool
    code: grpc.StatusCode
    samples: int
    """Samples received (a stream's until its end or its error)."""
    started_at: float
    """``time.monotonic()`` when the call began."""
    elapsed_s: float


async def call(
    stub, text: str, cached: bool, stream: bool
) -> tuple[grpc.StatusCode, int]:
    """One Synthesize or StreamSynthesize call: its status and samples received."""
    pcm = audio_pb2.AUDIO_ENCODING_PCM_S16LE
    samples = 0
    try:
        if stream:
            request = gateway_service_pb2.StreamSynthesizeRequest(
                text=text, encoding=pcm, no_cache=not cached
            )
            async for message in stub.StreamSynthesize(request, timeout=DEADLINE_S):
                if message.HasField("chunk"):
                    samples += len(message.chunk.audio) // 2
        else:
            unary = gateway_service_pb2.SynthesizeRequest(
                text=text, encoding=pcm, no_cache=not cached
            )
            reply = await stub.Synthesize(unary, timeout=DEADLINE_S)
            samples = len(reply.audio) // 2
            assert reply.num_samples == samples
    except grpc.aio.AioRpcError as exc:
        return exc.code(), samples
    return grpc.StatusCode.OK, samples


class Load:
    """``CALLERS`` callers in a loop, alternating cached and uncached texts and
    unary and streaming calls, until stopped."""

    def __init__(self, stub) -> None:
        self.stub, self.phase = stub, "steady"
        self.outcomes: list[Outcome] = []
        self._stop = asyncio.Event()

    async def caller(self, n: int) -> None:
        i = n
        while not self._stop.is_set():
            cached, stream = i % 2 == 0, (i // 2) % 2 == 0
            text = (CACHED if cached else UNCACHED)[i % 3]
            phase, start = self.phase, time.monotonic()
            code, samples = await call(self.stub, text, cached, stream)
            elapsed = time.monotonic() - start
            self.outcomes.append(
                Outcome(phase, text, cached, stream, code, samples, start, elapsed)
            )
            i += 1
            if code != grpc.StatusCode.OK:
                await asyncio.sleep(0.05)  # a refused caller retries, not spins

    def stop(self) -> None:
        self._stop.set()


async def recovered(stack: LocalStack, stub, victim: str, killed_at: float) -> float:
    """Seconds from the kill until the supervisor has the victim serving again,
    every service answers SERVING and a fresh uncached request succeeds."""
    supervisor = stack.supervisor
    assert supervisor is not None
    n = 0
    while True:
        assert time.monotonic() - killed_at < RECOVERY_S, (
            f"{victim} not recovered within {RECOVERY_S:.0f} s\n"
            + stack.processes[victim].log_tail()
        )
        done = [r for r in supervisor.restarts if r.name == victim and r.ready_at]
        if done and not supervisor.pending():
            statuses = await asyncio.gather(*(
                asyncio.to_thread(health_status, p.address, timeout_s=1.0)
                for name, p in stack.processes.items() if name != "redis"
            ))  # fmt: skip
            n += 1
            fresh = f"第{n}次恢复检查{victim}。"
            code, _ = await call(stub, fresh, cached=False, stream=False)
            if set(statuses) == {"SERVING"} and code == grpc.StatusCode.OK:
                return time.monotonic() - killed_at
        await asyncio.sleep(0.05)


_Recovery = dict[str, tuple[float, float]]
"""Victim -> (``time.monotonic()`` of its kill, seconds until recovered)."""


async def chaos(stack: LocalStack) -> tuple[list[Outcome], _Recovery, dict[str, int]]:
    """Warm the cache, start the load, kill each victim in turn, wait for recovery.

    Returns:
        Every call's outcome, per victim the ``time.monotonic()`` of its kill and
        the seconds to recovery, and the unary sample count of every text (what a
        whole response must have).
    """
    async with grpc.aio.insecure_channel(stack.gateway_address) as channel:
        stub = gateway_service_pb2_grpc.GatewayServiceStub(channel)
        expected: dict[str, int] = {}
        for text in (*CACHED, *UNCACHED):
            code, samples = await call(stub, text, text in CACHED, stream=False)
            assert code == grpc.StatusCode.OK and samples > 0
            expected[text] = samples
        load = Load(stub)
        callers = [asyncio.create_task(load.caller(n)) for n in range(CALLERS)]
        recovery: _Recovery = {}
        try:
            await asyncio.sleep(SETTLE_S)
            for victim in VICTIMS:
                load.phase = victim
                pid = stack.processes[victim].pid
                os.kill(pid, signal.SIGKILL)
                killed_at = time.monotonic()
                seconds = await recovered(stack, stub, victim, killed_at)
                recovery[victim] = (killed_at, seconds)
                await asyncio.sleep(SETTLE_S)
        finally:
            load.stop()
            await asyncio.gather(*callers)
        return load.outcomes, recovery, expected


def first_success_after_serving(
    outcomes: list[Outcome], victim: str, ready_at: float
) -> float | None:
    """Seconds from ``victim`` reporting SERVING again to the end of the first
    uncached call that succeeded after it (None: none did)."""
    ends = [
        o.started_at + o.elapsed_s
        for o in outcomes
        if o.phase == victim and not o.cached and o.code == grpc.StatusCode.OK
        and o.started_at + o.elapsed_s >= ready_at
    ]  # fmt: skip
    return min(ends) - ready_at if ends else None


def report(
    outcomes: list[Outcome],
    recovery: _Recovery,
    restarts: list[Restart],
) -> str:
    """Calls per phase, kind and status; the timeline of each kill."""
    counts = collections.Counter(
        (o.phase, "cached" if o.cached else "uncached", o.code.name) for o in outcomes
    )
    lines = [f"{'phase':9s} {'kind':9s} {'status':12s} calls"]
    lines += [f"{p:9s} {k:9s} {c:12s} {n}" for (p, k, c), n in sorted(counts.items())]
    slowest_failure = max(
        (o.elapsed_s for o in outcomes if o.code != grpc.StatusCode.OK), default=0.0
    )
    lines.append(f"slowest failed call: {slowest_failure:.2f} s")
    kills = [kill for kill, _ in recovery.values()]
    next_kill = dict(zip(recovery, [*kills[1:], float("inf")], strict=True))
    for r in restarts:
        assert r.restarted_at is not None
        if r.ready_at is None:
            lines.append(f"{r.name} died ({r.cause}) and its restart died too")
            continue
        line = (
            f"kill -9 {r.name}: restarted {r.restarted_at - r.died_at:.2f} s, "
            f"ready {r.ready_at - r.died_at:.2f} s, fresh request ok "
            f"{recovery[r.name][1]:.2f} s after the kill"
        )
        lag = first_success_after_serving(outcomes, r.name, r.ready_at)
        if r.name != "redis" and lag is not None:
            failed = [
                o.started_at - r.ready_at
                for o in outcomes
                if o.phase == r.name and o.code != grpc.StatusCode.OK
                and o.started_at + o.elapsed_s < next_kill[r.name]
            ]  # fmt: skip
            last = max(failed, default=float("nan"))
            line += (
                f"; after SERVING: last failed call started {last:+.2f} s, "
                f"first uncached success ended {lag:.2f} s"
            )
        lines.append(line)
    return "\n".join(lines)


def test_kill_each_process_under_load(tmp_path: Path) -> None:
    """kill -9 of every stage and of Redis under load: no corrupt or hung call,
    cached calls unaffected, the stack whole again within seconds."""
    with LocalStack(
        MODEL_DIR, env=STACK_ENV, startup_timeout_s=120, grace_s=5, supervise=True,
        log_dir=tmp_path,
    ) as stack:  # fmt: skip
        outcomes, recovery, expected = asyncio.run(chaos(stack))
        assert stack.supervisor is not None
        restarts = stack.supervisor.restarts
    print("\n" + report(outcomes, recovery, restarts))
    # Each kill was seen and answered; a restart that died again (its cause is in
    # the report and the logs under tmp_path) was restarted in turn.
    killed = [r.name for r in restarts if r.cause == "killed by SIGKILL"]
    assert killed == list(VICTIMS), report(outcomes, recovery, restarts)
    assert {r.name for r in restarts} == set(VICTIMS)
    assert len(outcomes) > 20 * len(VICTIMS)
    for o in outcomes:
        assert o.code in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE), o
        assert o.code == grpc.StatusCode.OK or not o.cached, o
        if o.code == grpc.StatusCode.OK:  # whole: as long as the unary answer
            assert o.samples == expected[o.text], o
        else:
            assert o.elapsed_s < FAIL_FAST_S, o
    # The gateway uses a restarted stage again at once: every call started over
    # REUSE_S after SERVING (and ended before the next kill) succeeded.
    serving = {r.name: r.ready_at for r in restarts if r.ready_at is not None}
    ends = [*(kill for kill, _ in recovery.values()), float("inf")][1:]
    for victim, next_kill in zip(VICTIMS, ends, strict=True):
        bad = [
            o
            for o in outcomes
            if o.phase == victim
            and o.started_at > serving[victim] + REUSE_S
            and o.started_at + o.elapsed_s < next_kill
            and o.code != grpc.StatusCode.OK
        ]
        assert not bad, (victim, serving[victim], bad)


def start_ttsctl_up(log: Path) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """``ttsctl up`` on free ports with the test voice, once it says it listens;
    returns it and the pid of each of its children."""
    cmd = [sys.executable, "-m", "ttsctl", "up", "--port", "0", "--http-port", "0",
           "--model-dir", str(MODEL_DIR), "--startup-timeout", "120"]  # fmt: skip
    with log.open("wb") as err:
        env = {**os.environ, **STACK_ENV, "XDG_RUNTIME_DIR": str(log.parent)}
        up = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err,
                              text=True, env=env)  # fmt: skip
    try:
        assert up.stdout is not None
        assert up.stdout.readline().startswith("gateway listening"), log.read_text()
        wait_until(lambda: len(children_in(log)) == 6, log)
    except BaseException:
        up.kill()  # its children follow (parent-death signal)
        up.wait()
        raise
    return up, children_in(log)


def children_in(log: Path) -> dict[str, int]:
    """Name -> pid from ``ttsctl up``'s listing (and its restart lines)."""
    text = log.read_text(errors="replace")
    found = {
        m[1]: int(m[2]) for m in re.finditer(r"^  (\S+) +\S+  pid (\d+)", text, re.M)
    }
    restarted = re.finditer(r"(\S+) restarted \(pid (\d+)", text)
    return {**found, **{m[1]: int(m[2]) for m in restarted}}


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition, log: Path, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, log.read_text(errors="replace")
        time.sleep(0.1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ttsctl_up_restarts_a_killed_stage_and_sighup_stops_everything(
    tmp_path: Path,
) -> None:
    """kill -9 of a stage under ``ttsctl up``: the cause is logged and it serves
    again; SIGHUP (the terminal closed) then stops every child, the new one too."""
    log = tmp_path / "up.log"
    up, pids = start_ttsctl_up(log)
    try:
        os.kill(pids["vocoder"], signal.SIGKILL)
        wait_until(lambda: "vocoder serving again" in log.read_text(), log)
        text = log.read_text()
        assert f"vocoder (pid {pids['vocoder']}) died: killed by SIGKILL" in text
        pids = {**pids, **children_in(log)}
        assert alive(pids["vocoder"])
        state = tmp_path / "sambert-tts" / "up.json"  # for ttsctl cache-purge
        assert "redis://" in state.read_text() and state.stat().st_mode & 0o077 == 0
        up.send_signal(signal.SIGHUP)
        assert up.wait(timeout=60) == 0, log.read_text()
        assert not state.exists()
    finally:
        up.kill()
        up.wait()
    assert [name for name, pid in pids.items() if alive(pid)] == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_ttsctl_up_leaves_no_orphans(tmp_path: Path) -> None:
    """Its children get SIGTERM as it dies, drain and exit."""
    log = tmp_path / "up.log"
    up, pids = start_ttsctl_up(log)
    up.kill()
    up.wait()
    killed_at = time.monotonic()
    wait_until(lambda: not any(alive(pid) for pid in pids.values()), log, 15)
    print(f"\nno child left {time.monotonic() - killed_at:.2f} s after kill -9")
