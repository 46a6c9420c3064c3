"""``ttsctl bench load --stage``: its callers drive a real acoustic and a real
vocoder servicer (golden random-weight voices) and measure what they stream."""

from __future__ import annotations

import argparse
from typing import Any, cast

import pytest

from acoustic_svc.batcher import build_batchers as build_decode_batchers
from acoustic_svc.servicer import AcousticServicer
from tests.golden import golden_cases
from tests.service.conftest import StartServer
from tts_common.executor import BoundedExecutor
from ttsctl.bench_load import _level
from ttsctl.load_report import level_summary
from ttsctl.load_targets import open_target
from vocoder_svc.batcher import build_batchers
from vocoder_svc.servicer import VocoderServicer

_ARGS = argparse.Namespace(deadline=60.0)


@pytest.mark.usefixtures("one_torch_thread")
async def test_the_acoustic_stage_alone(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    model = acoustic_models["small_causal"]
    executor = BoundedExecutor(1, 8)
    batchers = build_decode_batchers({model.voice: cast(Any, model)}, executor)
    servicer = AcousticServicer(batchers, executor)
    channel = await start_server(servicer.register)
    target = await open_target("acoustic", channel, ["一"], 0.0, _ARGS)
    target.symbols = [golden_cases("small_causal")[0].meta["symbols"]]
    await target.prepare()
    results, _, wall = await _level(target.call, 2, 0.5, dict)
    summary = level_summary(results, wall, 60.0)
    assert summary["codes"] == {"OK": len(results)} and summary["incomplete_ok"] == 0
    frames = len(model.mel(target.symbols[0]))
    seconds = frames * model.hop_length / model.sample_rate
    assert all(abs(r.audio_s - seconds) < 1e-6 for r in results)
    assert all(r.first_audio_s is not None for r in results)


@pytest.mark.usefixtures("one_torch_thread")
async def test_the_vocoder_stage_alone(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    voc = vocoders["small_noncausal"]
    executor = BoundedExecutor(1, 8)
    servicer = VocoderServicer(build_batchers({"v": voc}, executor), executor)
    channel = await start_server(servicer.register)
    target = await open_target("vocoder", channel, ["今天天气很好。"], 0.0, _ARGS)
    mel = target.mels[0]
    assert mel.shape[1] == voc.num_mels and len(mel) > 12  # several chunks
    await target.prepare()
    results, _, wall = await _level(target.call, 3, 0.5, dict)
    summary = level_summary(results, wall, 60.0)
    assert summary["codes"] == {"OK": len(results)} and summary["incomplete_ok"] == 0
    seconds = len(mel) * voc.hop_length / voc.sample_rate
    assert all(abs(r.audio_s - seconds) < 1e-6 for r in results)
