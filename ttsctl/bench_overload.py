"""``ttsctl bench overload``: many more callers than capacity, and what each got.

``--callers`` closed-loop callers stream uncached sentences (``no_cache``) with a
``--deadline``; a refused caller waits the ``retry-after-ms`` it was given (at most
2 s, jittered) and tries again. Meanwhile ``--cached-callers`` ask for sentences
cached before the run. For ``--duration`` seconds every call is recorded, and with
``--stack`` (a local stack this command starts) each process's memory, open files
and threads are sampled. The summary says whether the goal held: every admitted
request finished within its deadline, refusals came fast, cached requests stayed
fast, and (for a soak) memory, files and threads stayed flat after ``--warmup``.
Writes ``<out>.json`` and ``<out>.md``. Bounded: it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import grpc

from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import RETRY_AFTER_MS_HEADER
from tts_common.stack import LocalStack
from ttsctl.load_targets import DEFAULT_SENTENCES, optional_stack, read_sentences
from ttsctl.overload_report import Call, Sample, summarize, to_markdown
from ttsctl.procwatch import snapshot, stack_pids
from ttsctl.stubs import aio_gateway_stub

_PCM = audio_pb2.AUDIO_ENCODING_PCM_S16LE
_CACHED_TIMEOUT_S = 5.0
_MAX_BACKOFF_S = 2.0


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = bench_sub.add_parser(
        "overload", help="callers past capacity: goodput, refusals, cached latency"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help="a running gateway's HOST:PORT")
    where.add_argument("--stack", metavar="MODEL_DIR", help="start a local stack")
    p.add_argument("--stack-env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--callers", type=int, default=64, help="uncached stream callers")
    p.add_argument("--cached-callers", type=int, default=2)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--deadline", type=float, default=10.0, help="uncached, seconds")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds before the "
                   "memory baseline")  # fmt: skip
    p.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    p.add_argument("--sentences", default=str(DEFAULT_SENTENCES), help="one per line")
    p.add_argument("--out", default=None, help="path prefix for .json and .md")
    p.add_argument("--seed", type=int, default=0)


class _Load:
    def __init__(self, stub: Any, args: argparse.Namespace, texts: list[str]) -> None:
        self.stub, self.args, self.texts = stub, args, texts
        self.calls: list[Call] = []
        self.stop = asyncio.Event()
        self.t0 = time.monotonic()

    async def uncached(self, n: int) -> None:
        rng = random.Random(self.args.seed * 1000 + n)
        while not self.stop.is_set():
            text = rng.choice(self.texts)
            start = time.monotonic()
            first, complete, code, pause = None, False, "OK", 0.0
            request = gw.StreamSynthesizeRequest(
                text=text, encoding=_PCM, no_cache=True
            )
            try:
                call = self.stub.StreamSynthesize(request, timeout=self.args.deadline)
                async for message in call:
                    if message.chunk.audio and first is None:
                        first = time.monotonic() - start
                    complete = complete or message.chunk.last_in_stream
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                retry = dict(exc.trailing_metadata() or ()).get(RETRY_AFTER_MS_HEADER)
                pause = min(_MAX_BACKOFF_S, int(retry) / 1000) if retry else 0.1
            self._record("uncached", code, start, first, complete)
            if pause:
                await asyncio.sleep(pause * rng.uniform(0.5, 1.5))

    async def cached(self, n: int) -> None:
        i = n
        while not self.stop.is_set():
            text = self.texts[i % len(self.texts)]
            start, code = time.monotonic(), "OK"
            try:
                await self.stub.Synthesize(
                    gw.SynthesizeRequest(text=text, encoding=_PCM),
                    timeout=_CACHED_TIMEOUT_S,
                )
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
            elapsed = time.monotonic() - start
            self._record("cached", code, start, elapsed, code == "OK")
            i += 1
            await asyncio.sleep(0.05)

    def _record(
        self, kind: str, code: str, start: float, first: float | None, complete: bool
    ) -> None:
        now = time.monotonic()
        self.calls.append(
            Call(kind, code, round(start - self.t0, 3), round(now - start, 4),
                 None if first is None else round(first, 4), complete)
        )  # fmt: skip


def _sample(stack: LocalStack | None, at_s: float) -> Iterator[Sample]:
    if stack is None:
        return
    for name, stat in snapshot(stack_pids(stack)()).items():
        yield Sample(at_s, name, stat.rss_mb, stat.fds, stat.threads)


async def _prepare(stub: Any, texts: list[str], deadline: float) -> None:
    """Cache every sentence (the cached callers' set) and measure the cost of an
    uncached request once, as a warm gateway would have."""
    for text in texts:
        await stub.Synthesize(gw.SynthesizeRequest(text=text), timeout=120)
    await stub.Synthesize(
        gw.SynthesizeRequest(text=texts[0], no_cache=True), timeout=max(deadline, 60)
    )


async def _run(
    address: str, args: argparse.Namespace, texts: list[str], stack: LocalStack | None
) -> Any:
    samples: list[Sample] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = aio_gateway_stub(channel)
        await _prepare(stub, texts, args.deadline)
        load = _Load(stub, args, texts)
        tasks = [asyncio.create_task(load.uncached(n)) for n in range(args.callers)]
        tasks += [
            asyncio.create_task(load.cached(n)) for n in range(args.cached_callers)
        ]
        end = load.t0 + args.duration
        while (now := time.monotonic()) < end:
            samples.extend(_sample(stack, round(now - load.t0, 1)))
            await asyncio.sleep(min(args.sample_every, max(0.0, end - now)))
        samples.extend(_sample(stack, round(time.monotonic() - load.t0, 1)))
        load.stop.set()
        await asyncio.gather(*tasks)
    return load.calls, samples


def run(args: argparse.Namespace) -> int:
    texts = read_sentences(args.sentences)
    with optional_stack(args) as stack:
        address = stack.gateway_address if stack else args.server
        calls, samples = asyncio.run(_run(address, args, texts, stack))
    settings = {
        k: getattr(args, k)
        for k in ("callers", "cached_callers", "duration", "deadline", "warmup")
    }
    summary = summarize(calls, samples, args.deadline, args.warmup)
    result = {"settings": settings, "summary": summary,
              "calls": Counter(f"{c.kind}:{c.code}" for c in calls),
              "samples": [asdict(s) for s in samples]}  # fmt: skip
    print(to_markdown(settings, summary))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        out.with_suffix(".md").write_text(to_markdown(settings, summary))
    return 0 if summary["verdict"]["all_held"] else 1
