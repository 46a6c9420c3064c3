"""What ``ttsctl bench load`` calls: the gateway, or one stage alone."""

from __future__ import annotations

import argparse
import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from sambert_tts_protos.v1 import (
    acoustic_service_pb2,
    acoustic_service_pb2_grpc,
    gateway_service_pb2,
    vocoder_service_pb2,
    vocoder_service_pb2_grpc,
)
from tts_common.stack import LocalStack
from ttsctl.load_calls import (
    StageVoice,
    StreamResult,
    acoustic_call,
    gateway_call,
    synthetic_mel,
    vocoder_call,
)
from ttsctl.stubs import aio_gateway_stub

__all__ = [
    "DEFAULT_SENTENCES",
    "Target",
    "open_target",
    "optional_stack",
    "read_sentences",
]

# The generated classes, typed as what their instances are to us.
_ACOUSTIC: Callable[[grpc.aio.Channel], Any] = (
    acoustic_service_pb2_grpc.AcousticServiceStub
)
_VOCODER: Callable[[grpc.aio.Channel], Any] = (
    vocoder_service_pb2_grpc.VocoderServiceStub
)
_PREPARE_TIMEOUT_S = 300.0
DEFAULT_SENTENCES = Path(__file__).with_name("load_sentences.txt")
"""The load benches' built-in ordinary sentences of varied length."""


@dataclass
class Target:
    """``call(i, rng)`` runs request ``i``; ``prepare()`` once before the sweep."""

    stub: Any
    texts: list[str]
    deadline_s: float
    hit_ratio: float = 0.0
    kind: str = "gateway"
    voice: StageVoice | None = None
    symbols: list[str] = field(default_factory=list)
    mels: list[np.ndarray] = field(default_factory=list)

    async def prepare(self) -> None:
        """Gateway: cache the sentences cached callers ask for, and run one
        uncached request (the gateway measures its cost). Stages: warm up."""
        if self.kind == "gateway" and self.hit_ratio > 0:
            for text in self.texts:
                request = gateway_service_pb2.SynthesizeRequest(text=text)
                await self.stub.Synthesize(request, timeout=_PREPARE_TIMEOUT_S)
        await self.call(0, random.Random(0), timeout_s=_PREPARE_TIMEOUT_S)

    async def call(
        self, i: int, rng: random.Random, timeout_s: float | None = None
    ) -> StreamResult:
        timeout = timeout_s or self.deadline_s
        if self.kind == "acoustic":
            assert self.voice is not None
            symbols = self.symbols[i % len(self.symbols)]
            return await acoustic_call(
                self.stub, self.voice, symbols, timeout_s=timeout
            )
        if self.kind == "vocoder":
            assert self.voice is not None
            mel = self.mels[i % len(self.mels)]
            return await vocoder_call(self.stub, self.voice, mel, timeout_s=timeout)
        cached = rng.random() < self.hit_ratio
        text = self.texts[i % len(self.texts)]
        return await gateway_call(self.stub, text, no_cache=not cached,
                                  timeout_s=timeout)  # fmt: skip


async def _stage_voice(stub: Any, request: Any) -> StageVoice:
    info = await stub.GetModelInfo(request, timeout=30)
    voice = next(v for v in info.voices if v.name == info.default_voice)
    return StageVoice(voice.name, voice.sample_rate_hz, voice.num_mels,
                      voice.hop_length)  # fmt: skip


async def open_target(
    kind: str,
    channel: grpc.aio.Channel,
    texts: list[str],
    hit_ratio: float,
    args: argparse.Namespace,
) -> Target:
    """The target for ``kind`` (``gateway``, ``acoustic`` or ``vocoder``).

    Raises:
        SystemExit: An unknown stage name.
    """
    if kind == "gateway":
        return Target(aio_gateway_stub(channel), texts, args.deadline, hit_ratio)
    if kind == "acoustic":
        from frontend_svc import Frontend

        stub = _ACOUSTIC(channel)
        voice = await _stage_voice(
            stub, acoustic_service_pb2.AcousticServiceGetModelInfoRequest()
        )
        frontend = Frontend()
        symbols = [s.symbols for text in texts for s in frontend.analyze(text)]
        return Target(stub, texts, args.deadline, kind=kind, voice=voice,
                      symbols=symbols)  # fmt: skip
    if kind == "vocoder":
        stub = _VOCODER(channel)
        voice = await _stage_voice(
            stub, vocoder_service_pb2.VocoderServiceGetModelInfoRequest()
        )
        mels = [synthetic_mel(voice, len(t), seed) for seed, t in enumerate(texts)]
        return Target(stub, texts, args.deadline, kind=kind, voice=voice, mels=mels)
    raise SystemExit(f"--stage takes acoustic or vocoder, not {kind!r}")


def read_sentences(path: str) -> list[str]:
    """The non-empty lines of a UTF-8 sentence file, stripped."""
    lines = Path(path).read_text("utf-8").splitlines()
    return [t.strip() for t in lines if t.strip()]


@contextlib.contextmanager
def optional_stack(args: argparse.Namespace) -> Iterator[LocalStack | None]:
    """The local stack ``--stack MODEL_DIR`` asks for (``--stack-env KEY=VALUE``
    added to its environment), started and stopped around the block; else None."""
    if not args.stack:
        yield None
        return
    env = dict(kv.split("=", 1) for kv in args.stack_env)
    with LocalStack(args.stack, env=env) as stack:
        yield stack
