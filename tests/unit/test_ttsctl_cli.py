"""ttsctl as a user meets it: --version, TTS_SERVER, stdin and stdout, Opus at the
bridge's rates, --no-cache, and one-line errors (no traceback) for user mistakes."""

from __future__ import annotations

import importlib.metadata
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from gateway.http.speech import FORMATS
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from ttsctl import _parser, main
from ttsctl.client import output_rate
from ttsctl.connect import DEFAULT_SERVER, default_server, rpc_error_line
from ttsctl.up import EXAMPLE_PRICES, metrics_urls, price_env

_REPO = Path(__file__).resolve().parents[2]
_DEAD = "127.0.0.1:1"
"""A gateway address nothing listens on."""
_Enc = audio_pb2.AudioEncoding


def _ttsctl(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None):
    """``python -m ttsctl ARGS`` as a user runs it (stdout is a pipe)."""
    path = os.pathsep.join([str(_REPO), str(_REPO / "protos" / "gen")])
    return subprocess.run(
        [sys.executable, "-m", "ttsctl", *args], input=stdin, capture_output=True,
        timeout=120, cwd=_REPO, env={**os.environ, "PYTHONPATH": path, **(env or {})},
    )  # fmt: skip


def _one_line_error(stderr: bytes, *words: str) -> str:
    text = stderr.decode()
    assert "Traceback" not in text and text.count("\n") == 1, text
    for word in words:
        assert word in text, text
    return text


# --- a fake gateway: what the CLI sends ------------------------------------------


class _FakeGateway(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpc has no stubs
    """ListVoices answers one voice at ``rate``; synthesis calls are recorded."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.requests: list[gw.SynthesizeRequest | gw.StreamSynthesizeRequest] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method.rsplit("/", 1)[-1]
        if method == "ListVoices":
            return grpc.unary_unary_rpc_method_handler(
                lambda _req, _ctx: gw.ListVoicesResponse(
                    voices=[gw.Voice(name="v", sample_rate_hz=self.rate)],
                    default_voice="v",
                ),
                request_deserializer=gw.ListVoicesRequest.FromString,
                response_serializer=gw.ListVoicesResponse.SerializeToString,
            )
        if method == "Synthesize":
            return grpc.unary_unary_rpc_method_handler(
                self._synthesize,
                request_deserializer=gw.SynthesizeRequest.FromString,
                response_serializer=gw.SynthesizeResponse.SerializeToString,
            )
        if method == "StreamSynthesize":
            return grpc.unary_stream_rpc_method_handler(
                self._stream,
                request_deserializer=gw.StreamSynthesizeRequest.FromString,
                response_serializer=gw.StreamSynthesizeResponse.SerializeToString,
            )
        return None

    def _synthesize(self, request, context) -> gw.SynthesizeResponse:
        self.requests.append(request)
        if request.emotion == "happy":
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "emotion 'happy' is not offered by voice 'v'; use one of: neutral,"
                "\nor leave it empty",
            )
        return gw.SynthesizeResponse(audio=b"AUDIO:" + request.text.encode())

    def _stream(self, request, _context) -> Iterator[gw.StreamSynthesizeResponse]:
        self.requests.append(request)
        yield gw.StreamSynthesizeResponse(header=gw.StreamSynthesizeHeader())
        yield gw.StreamSynthesizeResponse(chunk=gw.SynthesisChunk(audio=b"??A"))
        # The last chunk of a WAV or FLAC stream: the true opening bytes.
        header = b"HD" if request.encoding == audio_pb2.AUDIO_ENCODING_WAV else b""
        last = gw.SynthesisChunk(audio=b"B", last_in_stream=True, final_header=header)
        yield gw.StreamSynthesizeResponse(chunk=last)


@pytest.fixture
def fake_gateway() -> Iterator[tuple[_FakeGateway, str]]:
    handler = _FakeGateway(rate=22050)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield handler, f"127.0.0.1:{port}"
    server.stop(None)


# --- tests ------------------------------------------------------------------------


def test_version_is_the_installed_package_s(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    version = importlib.metadata.version("sambert-tts-service")
    assert capsys.readouterr().out.split()[:2] == ["ttsctl", version]


def test_tts_server_is_the_default_of_every_server_flag(monkeypatch) -> None:
    assert default_server({}) == DEFAULT_SERVER == "localhost:50050"
    assert default_server({"TTS_SERVER": " gw.example:443 "}) == "gw.example:443"
    monkeypatch.setenv("TTS_SERVER", "gw.example:443")
    parser = _parser()
    for argv in (["say", "x", "-o", "x.wav"], ["voices"], ["cache-report"],
                 ["bench", "speech", "--sentences", "f", "--out", "d"],
                 ["bench", "paragraph"]):  # fmt: skip
        assert parser.parse_args(argv).server == "gw.example:443", argv
    assert parser.parse_args(["voices", "--server", "h:1"]).server == "h:1"


@pytest.mark.parametrize(
    ("encoding", "voice_rate", "rate"),
    [
        (audio_pb2.AUDIO_ENCODING_OGG_OPUS, 22050, 24000),
        (audio_pb2.AUDIO_ENCODING_OGG_OPUS, 16000, 0),
        (audio_pb2.AUDIO_ENCODING_OGG_OPUS, 44100, 48000),
        (audio_pb2.AUDIO_ENCODING_MP3, 22050, 0),
        (audio_pb2.AUDIO_ENCODING_WAV, 22050, 0),
        (audio_pb2.AUDIO_ENCODING_PCM_S16LE, 22050, 0),  # not OpenAI's fixed 24 kHz
    ],
)
def test_output_rate_is_the_http_bridge_s(encoding: _Enc, voice_rate: int, rate: int):
    assert output_rate(encoding, voice_rate) == rate
    if encoding == audio_pb2.AUDIO_ENCODING_OGG_OPUS:
        assert rate == FORMATS["opus"].sample_rate_for(voice_rate)


def test_ogg_from_a_22k_voice_asks_for_24k(fake_gateway, capsys, tmp_path) -> None:
    gateway, addr = fake_gateway
    out = tmp_path / "out.ogg"
    assert main(["say", "你好", "-o", str(out), "--server", addr]) == 0
    assert gateway.requests[-1].encoding == audio_pb2.AUDIO_ENCODING_OGG_OPUS
    assert gateway.requests[-1].sample_rate_hz == 24000
    assert main(["say", "你好", "-o", str(out), "--server", addr,
                 "--sample-rate", "48000", "--stream"]) == 0  # fmt: skip
    assert gateway.requests[-1].sample_rate_hz == 48000  # the caller's choice
    assert main(["say", "你好", "-o", str(tmp_path / "o.wav"), "--server", addr]) == 0
    assert gateway.requests[-1].sample_rate_hz == 0  # the voice's own
    assert main(["say", "你好", "-o", str(tmp_path / "o.ulaw"), "--server", addr]) == 0
    assert gateway.requests[-1].encoding == audio_pb2.AUDIO_ENCODING_MULAW
    assert gateway.requests[-1].sample_rate_hz == 0  # the gateway's 8 kHz
    capsys.readouterr()


def test_streamed_wav_gets_its_final_header_and_pitch_reaches_the_request(
    fake_gateway, tmp_path
) -> None:
    gateway, addr = fake_gateway
    out = tmp_path / "o.wav"
    assert main(["say", "你好", "-o", str(out), "--server", addr, "--stream",
                 "--pitch", "-3"]) == 0  # fmt: skip
    assert out.read_bytes() == b"HDAB"  # final_header written over the start
    assert gateway.requests[-1].pitch_semitones == -3.0
    raw = tmp_path / "o.pcm"
    assert main(["say", "你好", "-o", str(raw), "--server", addr, "--stream"]) == 0
    assert raw.read_bytes() == b"??AB"  # no header to fix


def test_no_cache_reaches_the_request(fake_gateway, tmp_path) -> None:
    gateway, addr = fake_gateway
    out = str(tmp_path / "o.wav")
    assert main(["say", "你好", "-o", out, "--server", addr, "--no-cache"]) == 0
    assert gateway.requests[-1].no_cache
    assert main(["say", "你好", "-o", out, "--server", addr, "--stream",
                 "--no-cache"]) == 0  # fmt: skip
    assert gateway.requests[-1].no_cache
    assert main(["say", "你好", "-o", out, "--server", addr]) == 0
    assert not gateway.requests[-1].no_cache


def test_text_from_stdin_and_audio_to_stdout(fake_gateway) -> None:
    gateway, addr = fake_gateway
    done = _ttsctl("say", "-", "-o", "-", stdin="今天天气很好。\n".encode(),
                   env={"TTS_SERVER": addr})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "AUDIO:今天天气很好。\n".encode()  # nothing else on stdout
    assert b"wrote stdout" in done.stderr
    assert gateway.requests[-1].encoding == audio_pb2.AUDIO_ENCODING_WAV
    done = _ttsctl("say", "-", "-o", "-", "--format", "flac", stdin="好。".encode(),
                   env={"TTS_SERVER": addr})  # fmt: skip
    assert gateway.requests[-1].encoding == audio_pb2.AUDIO_ENCODING_FLAC


def test_grpc_errors_are_one_line_with_the_status(fake_gateway, tmp_path) -> None:
    _, addr = fake_gateway
    out = str(tmp_path / "o.wav")
    done = _ttsctl("say", "你好", "-o", out, "--emotion", "happy", "--server", addr)
    assert done.returncode == 1
    _one_line_error(done.stderr, "ttsctl say: INVALID_ARGUMENT:", "use one of: neutral")
    down = _ttsctl("voices", "--server", _DEAD, "--timeout", "2")
    assert down.returncode == 1
    _one_line_error(down.stderr, "ttsctl voices: UNAVAILABLE")
    report = _ttsctl("cache-report", "--timeout", "2", env={"TTS_SERVER": _DEAD})
    assert report.returncode == 1
    _one_line_error(report.stderr, "ttsctl cache-report: UNAVAILABLE")


def test_rpc_error_line_folds_details_onto_one_line() -> None:
    class _Err(grpc.RpcError):  # type: ignore[misc]
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.NOT_FOUND

        def details(self) -> str:
            return "voice 'x'\n  not found"

    assert rpc_error_line(_Err()) == "NOT_FOUND: voice 'x' not found"


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("/missing/dir/x.wav", ("the directory /missing/dir does not exist",)),
        ("{tmp}", ("it is a directory",)),
        ("{tmp}/x.aac", ("unknown output suffix '.aac'", ".ogg")),
    ],
)
def test_a_bad_output_is_refused_before_any_call(tmp_path, output, words) -> None:
    done = _ttsctl("say", "你好", "-o", output.format(tmp=tmp_path), "--server", _DEAD)
    assert done.returncode == 2
    _one_line_error(done.stderr, "ttsctl say: ", *words)  # not UNAVAILABLE: no call


def test_empty_or_undecodable_stdin_is_refused() -> None:
    empty = _ttsctl("say", "-", "-o", "x.wav", stdin=b" \n", env={"TTS_SERVER": _DEAD})
    assert empty.returncode == 2
    _one_line_error(empty.stderr, "no text to speak on stdin")
    latin = _ttsctl("say", "-", "-o", "x.wav", stdin=b"\xff", env={"TTS_SERVER": _DEAD})
    assert latin.returncode == 2
    _one_line_error(latin.stderr, "stdin is not UTF-8 text")


def test_a_reader_that_goes_away_ends_it_quietly() -> None:
    """``ttsctl frontend ... | head -1``: the rest of the output has no reader; ttsctl
    stops like a Unix tool stopped by SIGPIPE (status 141), without a traceback."""
    path = os.pathsep.join([str(_REPO), str(_REPO / "protos" / "gen")])
    text = "今天天气很好，我们一起去公园散步吧。" * 200  # far more than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttsctl", "frontend", "-", "--json"], cwd=_REPO,
        env={**os.environ, "PYTHONPATH": path}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(text.encode())
    proc.stdin.close()
    assert proc.stdout.readline() == b"[\n"
    proc.stdout.close()  # what head does after its line
    assert proc.wait(timeout=120) == 141
    assert proc.stderr is not None and proc.stderr.read() == b""


def test_up_prices_with_the_example_table_unless_told_otherwise() -> None:
    assert EXAMPLE_PRICES.is_file()
    assert price_env(None, None, {}) == {"GATEWAY_PRICE_TABLE": str(EXAMPLE_PRICES)}
    mine = {"GATEWAY_PRICE_TABLE": "/etc/prices.yaml"}
    assert price_env(None, None, mine) == mine
    assert price_env("p.json", "cpu-c7i", mine) == {
        "GATEWAY_PRICE_TABLE": "p.json",
        "GATEWAY_PRICE_TIER": "cpu-c7i",
    }
    assert price_env("none", None, mine) == {"GATEWAY_PRICE_TABLE": ""}


def test_up_missing_price_table_is_one_line(tmp_path) -> None:
    done = _ttsctl("up", "--price-table", str(tmp_path / "nope.yaml"), "--port", "0")
    assert done.returncode == 2
    _one_line_error(done.stderr, "no price table at")


def test_up_lists_a_metrics_url_per_service() -> None:
    """Redis has none; the bridge serves its own ``/metrics``."""

    def proc(address: str, metrics_port: int) -> SimpleNamespace:
        return SimpleNamespace(address=address, metrics_port=metrics_port)

    stack = SimpleNamespace(
        processes={
            "redis": proc("127.0.0.1:6379", 0),
            "frontend": proc("127.0.0.1:5001", 9102),
            "gateway": proc("127.0.0.1:50050", 9101),
            "http": proc("127.0.0.1:8080", 0),
        },
        http_url="http://127.0.0.1:8080",
    )
    assert metrics_urls(stack) == {  # type: ignore[arg-type]
        "frontend": "http://127.0.0.1:9102/metrics",
        "gateway": "http://127.0.0.1:9101/metrics",
        "http": "http://127.0.0.1:8080/metrics",
    }


def test_stdout_refuses_a_terminal(monkeypatch, capsys) -> None:
    class _Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", _Tty())
    assert main(["say", "你好", "-o", "-", "--server", _DEAD]) == 2
    assert "refusing to write audio to a terminal" in capsys.readouterr().err
