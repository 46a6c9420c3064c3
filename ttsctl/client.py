"""``ttsctl say`` and ``ttsctl voices``: a small gRPC client of the gateway."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TypedDict

import grpc

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2
from ttsctl.connect import open_channel
from ttsctl.stubs import gateway_stub

DEFAULT_SERVER = "localhost:50050"
_ENCODINGS = {
    ".wav": audio_pb2.AUDIO_ENCODING_WAV,
    ".flac": audio_pb2.AUDIO_ENCODING_FLAC,
    ".ogg": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    ".opus": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    ".mp3": audio_pb2.AUDIO_ENCODING_MP3,
    ".pcm": audio_pb2.AUDIO_ENCODING_PCM_S16LE,
    ".raw": audio_pb2.AUDIO_ENCODING_PCM_S16LE,
}


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``say`` and ``voices`` on the ttsctl parser."""
    say = sub.add_parser("say", help="synthesize TEXT through the gateway into a file")
    say.add_argument("text")
    say.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file; its suffix picks the encoding (.wav .flac .ogg .mp3 .pcm)",
    )
    say.add_argument("--voice", default="")
    say.add_argument("--emotion", default="")
    say.add_argument("--speaker", default="")
    say.add_argument("--speed", type=float, default=1.0)
    say.add_argument("--volume-db", type=float, default=0.0)
    say.add_argument("--sample-rate", type=int, default=0, help="Hz; 0 = the voice's")
    say.add_argument("--ssml", action="store_true", help="TEXT is SSML")
    say.add_argument("--stream", action="store_true", help="use streaming synthesis")
    say.add_argument("--timeout", type=float, default=120.0, help="deadline in seconds")
    say.add_argument("--server", default=DEFAULT_SERVER, help="gateway HOST:PORT")
    voices = sub.add_parser("voices", help="list the gateway's voices")
    voices.add_argument("--server", default=DEFAULT_SERVER, help="gateway HOST:PORT")
    voices.add_argument("--timeout", type=float, default=10.0)


class _RequestFields(TypedDict):
    """The fields ``say`` sets, shared by SynthesizeRequest and StreamSynthesizeRequest."""

    text: str
    voice: str
    emotion: str
    speaker: str
    speed: float
    volume_gain_db: float
    encoding: audio_pb2.AudioEncoding
    sample_rate_hz: int
    ssml: bool


def _request_fields(args: argparse.Namespace) -> _RequestFields:
    suffix = Path(args.output).suffix.lower()
    if suffix not in _ENCODINGS:
        raise SystemExit(
            f"ttsctl say: unknown output suffix {suffix!r}; use one of "
            f"{', '.join(sorted(_ENCODINGS))}"
        )
    return _RequestFields(
        text=args.text,
        voice=args.voice,
        emotion=args.emotion,
        speaker=args.speaker,
        speed=args.speed,
        volume_gain_db=args.volume_db,
        encoding=_ENCODINGS[suffix],
        sample_rate_hz=args.sample_rate,
        ssml=args.ssml,
    )


def run_say(args: argparse.Namespace) -> int:
    fields = _request_fields(args)
    start = time.perf_counter()
    first: float | None = None
    with open_channel(args.server) as channel:
        stub = gateway_stub(channel)
        try:
            if args.stream:
                parts = []
                for msg in stub.StreamSynthesize(
                    gateway_service_pb2.StreamSynthesizeRequest(**fields),
                    timeout=args.timeout,
                ):
                    if msg.HasField("chunk") and msg.chunk.audio:
                        first = first or time.perf_counter() - start
                        parts.append(msg.chunk.audio)
                audio = b"".join(parts)
            else:
                reply = stub.Synthesize(
                    gateway_service_pb2.SynthesizeRequest(**fields),
                    timeout=args.timeout,
                )
                audio = reply.audio
        except grpc.RpcError as err:
            print(f"ttsctl say: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
    Path(args.output).write_bytes(audio)
    took = time.perf_counter() - start
    extra = f", first audio after {first:.3f} s" if first is not None else ""
    print(f"wrote {args.output} ({len(audio)} bytes) in {took:.2f} s{extra}")
    return 0


def run_voices(args: argparse.Namespace) -> int:
    with open_channel(args.server) as channel:
        stub = gateway_stub(channel)
        try:
            reply = stub.ListVoices(
                gateway_service_pb2.ListVoicesRequest(), timeout=args.timeout
            )
        except grpc.RpcError as err:
            print(f"ttsctl voices: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
    for voice in reply.voices:
        mark = " (default)" if voice.name == reply.default_voice else ""
        print(
            f"{voice.name}{mark}: {voice.sample_rate_hz} Hz; "
            f"emotions: {', '.join(voice.emotions)}; speakers: {', '.join(voice.speakers)}"
        )
    return 0
