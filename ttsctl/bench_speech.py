"""``ttsctl bench speech``: synthesize a sentence list through a gateway for scoring.

Writes ``<out>/s_NN.wav`` and ``<out>/pairs.tsv`` (path TAB text), the input of
``asr_cer.py --list`` (intelligibility is scored by hand, in the ASR tool's own venv),
and prints the real-time factor, the peak level and the longest internal silence.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import grpc
import numpy as np
import soundfile as sf

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2
from tts_common.audio import longest_inner_silence_s
from ttsctl.connect import add_server_argument
from ttsctl.stubs import gateway_stub


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    speech = bench_sub.add_parser(
        "speech", help="synthesize a sentence file via a gateway"
    )
    add_server_argument(speech)
    speech.add_argument("--sentences", required=True, help="UTF-8 file, one per line")
    speech.add_argument("--out", required=True, help="folder for wavs and pairs.tsv")
    speech.add_argument("--voice", default="")


def run(args: argparse.Namespace) -> int:
    lines = [t.strip() for t in Path(args.sentences).read_text("utf-8").splitlines()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pairs, audio_s, peak, silence = [], 0.0, 0.0, 0.0
    start = time.perf_counter()
    with grpc.insecure_channel(args.server) as channel:
        stub = gateway_stub(channel)
        for i, text in enumerate(t for t in lines if t):
            reply = stub.Synthesize(
                gateway_service_pb2.SynthesizeRequest(
                    text=text,
                    voice=args.voice,
                    encoding=audio_pb2.AUDIO_ENCODING_WAV,
                    no_cache=True,
                ),
                timeout=600,
            )
            pcm, rate = sf.read(io.BytesIO(reply.audio), dtype="int16")
            path = out / f"s_{i:02d}.wav"
            path.write_bytes(reply.audio)
            pairs.append(f"{path.resolve()}\t{text}")
            audio_s += len(pcm) / rate
            peak = max(peak, float(np.abs(pcm).max()) / 32768)
            silence = max(silence, longest_inner_silence_s(pcm, rate))
    took = time.perf_counter() - start
    (out / "pairs.tsv").write_text("\n".join(pairs) + "\n", "utf-8")
    print(
        f"{len(pairs)} sentences, {audio_s:.1f} s audio in {took:.1f} s "
        f"(RTF {took / max(audio_s, 1e-9):.3f}); peak {peak:.3f}; "
        f"longest inner silence {silence:.2f} s"
    )
    print(f"score: asr_cer.py --list {out / 'pairs.tsv'}")
    return 0
