"""``ttsctl say`` and ``ttsctl voices``: a small gRPC client of the gateway.

``say`` reads its text from the command line or, given ``-``, from stdin, and
writes a file or, with ``-o -``, stdout. Opus and MP3 take only some sample rates:
unless ``--sample-rate`` says otherwise, a voice at another rate is resampled to
the one the HTTP bridge uses (``gateway.http.speech.OutputFormat.sample_rate_for``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import grpc

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2
from ttsctl.connect import add_server_argument, open_channel, rpc_error_line
from ttsctl.stubs import GatewayStub, gateway_stub

if TYPE_CHECKING:
    from gateway.http.speech import OutputFormat

__all__ = ["STDIO", "add_arguments", "output_rate", "run_say", "run_voices"]

STDIO = "-"
"""``say``'s text argument and ``-o`` value meaning stdin and stdout."""
_Enc = audio_pb2.AudioEncoding
_FORMATS: dict[str, _Enc] = {
    "wav": audio_pb2.AUDIO_ENCODING_WAV,
    "flac": audio_pb2.AUDIO_ENCODING_FLAC,
    "opus": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    "mp3": audio_pb2.AUDIO_ENCODING_MP3,
    "pcm": audio_pb2.AUDIO_ENCODING_PCM_S16LE,
    "mulaw": audio_pb2.AUDIO_ENCODING_MULAW,
    "alaw": audio_pb2.AUDIO_ENCODING_ALAW,
}
"""``--format`` names (``opus`` is Ogg/Opus, ``pcm`` 16-bit little-endian mono,
``mulaw`` and ``alaw`` headerless G.711, 8 kHz unless ``--sample-rate``)."""
_SUFFIXES = {
    ".wav": "wav",
    ".flac": "flac",
    ".ogg": "opus",
    ".opus": "opus",
    ".mp3": "mp3",
    ".pcm": "pcm",
    ".raw": "pcm",
    ".ulaw": "mulaw",
    ".ul": "mulaw",
    ".alaw": "alaw",
    ".al": "alaw",
}


class UserError(Exception):
    """A mistake on the command line: printed as one line, exit status 2."""


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``say`` and ``voices`` on the ttsctl parser."""
    say = sub.add_parser("say", help="synthesize TEXT through the gateway into a file")
    say.add_argument("text", help="text to speak (SSML with --ssml); - reads stdin")
    say.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file; its suffix picks the encoding (.wav .flac .ogg .mp3 "
        ".pcm .ulaw .alaw); - writes the audio to stdout (WAV unless --format says)",
    )
    say.add_argument(
        "--format",
        choices=sorted(_FORMATS),
        default=None,
        help="encoding, whatever the suffix (opus = Ogg/Opus)",
    )
    say.add_argument("--voice", default="", help="voice name (default: the gateway's)")
    say.add_argument(
        "--emotion", default="", help="one the voice offers (see ttsctl voices)"
    )
    say.add_argument("--speaker", default="")
    say.add_argument("--speed", type=float, default=1.0)
    say.add_argument("--volume-db", type=float, default=0.0)
    say.add_argument(
        "--pitch", type=float, default=0.0, help="pitch shift in semitones, -12 to 12"
    )
    say.add_argument(
        "--sample-rate",
        type=int,
        default=0,
        help="Hz; 0 = the voice's (Opus and MP3: the next rate their codec takes)",
    )
    say.add_argument("--ssml", action="store_true", help="TEXT is SSML")
    say.add_argument("--stream", action="store_true", help="use streaming synthesis")
    say.add_argument(
        "--no-cache",
        action="store_true",
        help="synthesize afresh: neither served from nor stored in the cache",
    )
    say.add_argument("--timeout", type=float, default=120.0, help="deadline in seconds")
    add_server_argument(say)
    voices = sub.add_parser("voices", help="list the gateway's voices")
    add_server_argument(voices)
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
    no_cache: bool
    pitch_semitones: float


def _encoding(args: argparse.Namespace) -> _Enc:
    if args.format:
        return _FORMATS[args.format]
    if args.output == STDIO:
        return _FORMATS["wav"]
    suffix = Path(args.output).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UserError(
            f"unknown output suffix {suffix or '(none)'!r}; use one of "
            f"{', '.join(sorted(_SUFFIXES))}, or --format"
        )
    return _FORMATS[_SUFFIXES[suffix]]


def _check_output(output: str) -> None:
    """Refuse an output that could not be written, before any synthesis."""
    if output == STDIO:
        if sys.stdout.isatty():
            raise UserError(
                "refusing to write audio to a terminal; redirect stdout "
                "(-o - > out.wav, or | a player) or give -o FILE"
            )
        return
    path = Path(output)
    if path.is_dir():
        raise UserError(f"cannot write {output}: it is a directory")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write {output}: {parent} is not a directory")
    if not parent.is_dir():
        raise UserError(f"cannot write {output}: the directory {parent} does not exist")


def _text(arg: str) -> str:
    if arg != STDIO:
        text = arg
    else:
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"stdin is not UTF-8 text ({exc.reason} at byte "
                            f"{exc.start})") from None  # fmt: skip
    if not text.strip():
        raise UserError("no text to speak" + (" on stdin" if arg == STDIO else ""))
    return text


def _codec_rates(encoding: _Enc) -> OutputFormat | None:
    """The HTTP bridge's format for ``encoding`` when its codec takes only some
    rates (Opus, MP3), else None. (The bridge's ``pcm`` is OpenAI's fixed 24 kHz;
    ours keeps the voice's rate.)"""
    from gateway.http.speech import FORMATS

    matches = (f for f in FORMATS.values() if f.encoding == encoding)
    return next((f for f in matches if f.rates_hz is not None), None)


def output_rate(encoding: _Enc, voice_rate_hz: int) -> int:
    """The sample rate to ask for when the caller gave none: the HTTP bridge's rule
    for Opus and MP3 (the next rate the codec takes), 0 (the voice's) otherwise."""
    fmt = _codec_rates(encoding)
    return fmt.sample_rate_for(voice_rate_hz) if fmt is not None else 0


def _voice_rate(stub: GatewayStub, voice: str, timeout: float) -> int:
    """The sample rate of ``voice`` (empty: the default one); 0 when unknown (the
    synthesis call then answers NOT_FOUND itself)."""
    reply = stub.ListVoices(gateway_service_pb2.ListVoicesRequest(), timeout=timeout)
    name = voice or reply.default_voice
    return next((int(v.sample_rate_hz) for v in reply.voices if v.name == name), 0)


def _request_fields(args: argparse.Namespace, text: str) -> _RequestFields:
    return _RequestFields(
        text=text,
        voice=args.voice,
        emotion=args.emotion,
        speaker=args.speaker,
        speed=args.speed,
        volume_gain_db=args.volume_db,
        encoding=_encoding(args),
        sample_rate_hz=args.sample_rate,
        ssml=args.ssml,
        no_cache=args.no_cache,
        pitch_semitones=args.pitch,
    )


def run_say(args: argparse.Namespace) -> int:
    """Synthesize, write the audio, report what was written (stderr for ``-o -``)."""
    try:
        _check_output(args.output)  # before stdin is read, or a synthesis is made
        fields = _request_fields(args, _text(args.text))
    except UserError as exc:
        print(f"ttsctl say: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    first: float | None = None
    with open_channel(args.server) as channel:
        stub = gateway_stub(channel)
        try:
            encoding = fields["encoding"]
            if not fields["sample_rate_hz"] and _codec_rates(encoding) is not None:
                rate = _voice_rate(stub, args.voice, args.timeout)
                fields["sample_rate_hz"] = output_rate(encoding, rate)
            if args.stream:
                parts, header = [], b""
                for msg in stub.StreamSynthesize(
                    gateway_service_pb2.StreamSynthesizeRequest(**fields),
                    timeout=args.timeout,
                ):
                    if msg.HasField("chunk") and msg.chunk.audio:
                        first = first or time.perf_counter() - start
                        parts.append(msg.chunk.audio)
                    header = msg.chunk.final_header or header
                # WAV and FLAC: the true length goes over the stream's first bytes.
                audio = header + b"".join(parts)[len(header) :]
            else:
                reply = stub.Synthesize(
                    gateway_service_pb2.SynthesizeRequest(**fields),
                    timeout=args.timeout,
                )
                audio = reply.audio
        except grpc.RpcError as err:
            print(f"ttsctl say: {rpc_error_line(err)}", file=sys.stderr)
            return 1
    took = time.perf_counter() - start
    if args.output == STDIO:
        sys.stdout.buffer.write(audio)
        sys.stdout.buffer.flush()
    else:
        try:
            Path(args.output).write_bytes(audio)
        except OSError as exc:
            print(f"ttsctl say: cannot write {args.output}: {exc.strerror or exc}",
                  file=sys.stderr)  # fmt: skip
            return 1
    extra = f", first audio after {first:.3f} s" if first is not None else ""
    where = "stdout" if args.output == STDIO else args.output
    print(
        f"wrote {where} ({len(audio)} bytes) in {took:.2f} s{extra}",
        file=sys.stderr if args.output == STDIO else sys.stdout,
    )
    return 0


def run_voices(args: argparse.Namespace) -> int:
    """List the voices, their rates, emotions and speakers; marks the default."""
    with open_channel(args.server) as channel:
        stub = gateway_stub(channel)
        try:
            reply = stub.ListVoices(
                gateway_service_pb2.ListVoicesRequest(), timeout=args.timeout
            )
        except grpc.RpcError as err:
            print(f"ttsctl voices: {rpc_error_line(err)}", file=sys.stderr)
            return 1
    for voice in reply.voices:
        mark = " (default)" if voice.name == reply.default_voice else ""
        print(
            f"{voice.name}{mark}: {voice.sample_rate_hz} Hz; "
            f"emotions: {', '.join(voice.emotions)}; speakers: {', '.join(voice.speakers)}"
        )
    return 0
