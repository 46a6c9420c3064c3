"""``ttsctl bench paragraph``: one long text, whole, through every path.

Synthesizes a paragraph near the text limit (default ``bench_paragraph.txt``, 1,993
characters) with the cache off through unary gRPC, streaming gRPC and the HTTP
bridge, one after the other, each with a long deadline, and records per path the
status, the wall time, the time to first audio and the audio received. The paths
must agree on the audio's length: a cut stream shows as a shorter one. Writes JSON
(``--out``) for ``docs/benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2
from ttsctl.connect import add_server_argument, open_channel
from ttsctl.stubs import gateway_stub

_DEFAULT_TEXT = Path(__file__).with_name("bench_paragraph.txt")
_HTTP_PCM_RATE_HZ = 24000
"""The bridge's ``pcm`` format: OpenAI's raw 24 kHz 16-bit mono."""
_PCM = audio_pb2.AUDIO_ENCODING_PCM_S16LE


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = bench_sub.add_parser(
        "paragraph", help="one long text, cache off, via unary, stream and HTTP"
    )
    add_server_argument(p)
    p.add_argument("--http", default="http://localhost:8080", help="HTTP bridge URL")
    p.add_argument("--text-file", default=str(_DEFAULT_TEXT))
    p.add_argument("--timeout", type=float, default=3600.0, help="deadline, seconds")
    p.add_argument("--paths", default="unary,stream,http", help="comma-separated")
    p.add_argument("--out", default=None, help="write the results as JSON here")


def _unary(channel: grpc.Channel, text: str, timeout: float) -> dict[str, Any]:
    reply = gateway_stub(channel).Synthesize(
        gateway_service_pb2.SynthesizeRequest(text=text, encoding=_PCM, no_cache=True),
        timeout=timeout,
    )
    return {
        "audio_s": reply.num_samples / reply.sample_rate_hz,
        "sentences": len(reply.sentences),
    }


def _stream(
    channel: grpc.Channel, text: str, timeout: float, first: Callable[[], None]
) -> dict[str, Any]:
    request = gateway_service_pb2.StreamSynthesizeRequest(
        text=text, encoding=_PCM, no_cache=True
    )
    rate, samples, last, sentences = 0, 0, False, 0
    for message in gateway_stub(channel).StreamSynthesize(request, timeout=timeout):
        if message.HasField("header"):
            rate = message.header.sample_rate_hz
            continue
        if message.chunk.audio:
            first()
        samples += len(message.chunk.audio) // 2
        sentences += message.chunk.last_in_sentence
        last = last or message.chunk.last_in_stream
    if not last:
        raise RuntimeError("the stream ended without last_in_stream")
    return {"audio_s": samples / rate, "sentences": sentences}


def _http(base: str, text: str, timeout: float, first: Callable[[], None]) -> Any:
    body = {"input": text, "response_format": "pcm", "no_cache": True}
    request = urllib.request.Request(
        f"{base.rstrip('/')}/v1/audio/speech",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    size = 0
    with urllib.request.urlopen(request, timeout=timeout) as response:
        while block := response.read(1 << 16):
            first()
            size += len(block)
    return {"audio_s": size / 2 / _HTTP_PCM_RATE_HZ}


def _timed(name: str, call: Callable[[Callable[[], None]], Any]) -> dict[str, Any]:
    start = time.monotonic()
    first_at: list[float] = []

    def first() -> None:
        if not first_at:
            first_at.append(time.monotonic() - start)

    result: dict[str, Any] = {"path": name}
    try:
        result.update(call(first), status="OK")
    except grpc.RpcError as exc:
        result.update(status=exc.code().name, detail=exc.details())
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        result.update(status="ERROR", detail=str(exc))
    result["wall_s"] = round(time.monotonic() - start, 2)
    result["first_audio_s"] = round(first_at[0], 3) if first_at else None
    return result


def run(args: argparse.Namespace) -> int:
    text = Path(args.text_file).read_text("utf-8").strip()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    results = []
    with open_channel(args.server) as channel:
        calls: dict[str, Callable[[Callable[[], None]], Any]] = {
            "unary": lambda first: _unary(channel, text, args.timeout),
            "stream": lambda first: _stream(channel, text, args.timeout, first),
            "http": lambda first: _http(args.http, text, args.timeout, first),
        }
        for name in paths:
            result = _timed(name, calls[name])
            print(json.dumps(result, ensure_ascii=False), flush=True)
            results.append(result)
    lengths = [r["audio_s"] for r in results if r["status"] == "OK"]
    whole = len(lengths) == len(results) and max(lengths) - min(lengths) < 0.05
    summary = {"chars": len(text), "timeout_s": args.timeout, "paths": results,
               "same_length": whole}  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    print(f"{len(text)} characters; every path whole and the same length: {whole}")
    return 0 if whole else 1
