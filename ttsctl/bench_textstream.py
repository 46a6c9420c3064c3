"""``ttsctl bench textstream``: first audio of text-in streaming, fed like an LLM.

Sends a paragraph to ``StreamingSynthesize`` a few characters at a time at a fixed
interval (3 characters every 50 ms by default, a fast LLM writing a reply) and
times, from the moment the piece that completes the first sentence was sent, the
arrival of the first audio; also whether it came before the whole text was sent.
The gateway closes a sentence only once the character after its end mark has
arrived (docs/architecture.md, "Text-in streaming"), so the figure includes that
wait. Sentences bypass the cache by default (``--cache`` to use it).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from gateway.text_stream import TextAccumulator
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from ttsctl.connect import add_server_argument
from ttsctl.stubs import GatewayStub, gateway_stub

__all__ = ["TextStreamRun", "add_arguments", "feed_like_llm", "run"]

_PARAGRAPH = Path(__file__).with_name("bench_paragraph.txt")
_DEFAULT_CHARS = 300


@dataclass
class TextStreamRun:
    """One fed stream: when things happened, in seconds from the call's start."""

    sentence_sent_s: float = 0.0
    """The piece that completes the first sentence (its end mark) was sent."""
    first_audio_s: float = 0.0
    """The first chunk with audio arrived."""
    all_sent_s: float = 0.0
    """The last piece was sent (the request stream then ends)."""
    end_s: float = 0.0
    """The last response arrived."""
    header: gw.StreamSynthesizeHeader | None = None
    chunks: list[gw.SynthesisChunk] = field(default_factory=list)

    @property
    def first_audio_after_sentence_s(self) -> float:
        """First audio, counted from the first complete sentence being sent."""
        return self.first_audio_s - self.sentence_sent_s


def first_sentence_end(text: str) -> int:
    """Index of the last character of the first segment the gateway closes."""
    segments = TextAccumulator().feed(text)
    return len(segments[0].text.rstrip()) - 1 if segments else len(text) - 1


def feed_like_llm(
    stub: GatewayStub,
    text: str,
    config: gw.StreamSynthesizeRequest,
    piece_chars: int = 3,
    interval_s: float = 0.05,
    timeout_s: float = 300.0,
) -> TextStreamRun:
    """Send ``text`` in pieces of ``piece_chars`` every ``interval_s`` after
    ``config``; read every response. Raises the call's error (``grpc.RpcError``)."""
    result = TextStreamRun()
    completes = first_sentence_end(text) // piece_chars  # the piece holding it
    start = time.perf_counter()
    sent = threading.Event()

    def requests() -> Iterator[gw.StreamingSynthesizeRequest]:
        yield gw.StreamingSynthesizeRequest(config=config)
        for n, at in enumerate(range(0, len(text), piece_chars)):
            if n:
                time.sleep(interval_s)
            if n == completes:
                result.sentence_sent_s = time.perf_counter() - start
            yield gw.StreamingSynthesizeRequest(text=text[at : at + piece_chars])
        result.all_sent_s = time.perf_counter() - start
        sent.set()

    for message in stub.StreamingSynthesize(requests(), timeout=timeout_s):
        if message.HasField("header"):
            result.header = message.header
            continue
        if message.chunk.audio and not result.first_audio_s:
            result.first_audio_s = time.perf_counter() - start
        result.chunks.append(message.chunk)
    result.end_s = time.perf_counter() - start
    sent.wait(timeout_s)
    return result


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``textstream`` under ``ttsctl bench``."""
    p = bench_sub.add_parser(
        "textstream", help="text-in streaming: first audio, fed like an LLM"
    )
    add_server_argument(p)
    p.add_argument(
        "--text", default=str(_PARAGRAPH), help="UTF-8 file (default: the paragraph)"
    )
    p.add_argument(
        "--chars", type=int, default=_DEFAULT_CHARS, help="first N characters of it"
    )
    p.add_argument("--piece-chars", type=int, default=3, help="characters per piece")
    p.add_argument("--interval-ms", type=float, default=50.0, help="between pieces")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--voice", default="")
    p.add_argument("--cache", action="store_true", help="use the cache (default: not)")


def run(args: argparse.Namespace) -> int:
    """Run the bench and print one line per run and a summary."""
    text = Path(args.text).read_text("utf-8").replace("\n", "")[: args.chars]
    config = gw.StreamSynthesizeRequest(
        voice=args.voice, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE,
        no_cache=not args.cache,
    )  # fmt: skip
    firsts = []
    with grpc.insecure_channel(args.server) as channel:
        stub = gateway_stub(channel)
        for i in range(args.runs):
            r = feed_like_llm(
                stub, text, config, args.piece_chars, args.interval_ms / 1000
            )
            audio_s = sum(len(c.audio) for c in r.chunks) / 2
            rate = r.header.sample_rate_hz if r.header else 1
            firsts.append(r.first_audio_after_sentence_s)
            print(
                f"run {i + 1}: first audio {r.first_audio_after_sentence_s:.3f} s "
                f"after the first sentence was sent ({r.first_audio_s:.3f} s after "
                f"the start; all {len(text)} characters sent at {r.all_sent_s:.3f} "
                f"s, last audio at {r.end_s:.3f} s; {audio_s / rate:.1f} s of audio)"
            )
    print(
        f"first audio after the first sentence: median "
        f"{statistics.median(firsts):.3f} s, worst {max(firsts):.3f} s "
        f"({args.piece_chars} characters every {args.interval_ms:g} ms)"
    )
    return 0
