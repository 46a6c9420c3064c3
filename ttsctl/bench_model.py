"""``ttsctl bench model``: real-time factors of the full-size models, random weights.

Builds a ModelScope-layout directory with the full-size KAN-TTS configs
(``sambert_16k.yaml``, ``hifigan_v1_16k.yaml``) and random weights, loads it through
the same entry points the services use, and times one sentence. The duration head is
set so every phone lasts 6 frames, like real speech (random weights alone give
degenerate durations). Reference numbers (KAN-TTS code, same machine kind, 2 threads,
the same 39-token sentence): acoustic 0.27 s, vocoder 0.15 s.

``--device`` and ``--dtype`` place the vocoder (the acoustic model stays on CPU, in
float32), so ``script/gpu-check`` times each precision on a GPU; ``--batch N`` also
times N sentences in one forward pass, as the vocoder's batcher runs them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

_SENTENCE = Path(__file__).with_name("bench_sentence.txt")
"""39 tokens, 9 words (今天天气很好我们一起去公园散步吧): the reference timings' sentence."""
FRAMES_PER_PHONE = 6
_VOC_PARAMS = {
    "in_channels": 80,
    "out_channels": 1,
    "channels": 256,
    "kernel_size": 7,
    "upsample_scales": [10, 5, 2, 2],
    "upsample_kernal_sizes": [20, 10, 4, 4],
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilations": [[1, 3, 5, 7]] * 3,
    "bias": True,
    "causal": True,
    "nonlinear_activation": "LeakyReLU",
    "nonlinear_activation_params": {"negative_slope": 0.1},
    "use_weight_norm": True,
}
_AUDIO = {"sampling_rate": 16000, "hop_length": 200, "n_mels": 80}


@dataclass(frozen=True)
class BenchWeights:
    """What ``_write_voice`` saved, kept in memory for the reference comparison."""

    am_config: dict[str, Any]
    """``SambertConfig`` as a dict (``n_*`` are the symbol table sizes)."""
    am_state: dict[str, torch.Tensor]
    voc_state: dict[str, torch.Tensor]
    """Generator weights with weight norm folded."""


def _write_voice(root: Path) -> BenchWeights:
    """Full-size random-weight voice in the ModelScope layout under ``root``."""
    from acoustic_svc.encoding import SymbolEncoder
    from acoustic_svc.nn.config import SambertConfig
    from acoustic_svc.nn.sambert import Sambert
    from vocoder_svc.nn.kantts_hifigan import KanttsGenerator, KanttsGeneratorConfig

    voice = root / "voices" / "bench"
    (voice / "am" / "ckpt").mkdir(parents=True)
    (voice / "voc" / "ckpt").mkdir(parents=True)
    (root / "configuration.json").write_text(
        json.dumps(
            {
                "framework": "pytorch",
                "task": "text-to-speech",
                "model": {"type": "sambert-hifigan", "sample_rate": 16000},
            }
        )
    )
    (root / "voices" / "voices.json").write_text('{"voices": ["bench"]}')
    torch.manual_seed(0)
    am = Sambert(SambertConfig.from_params({}, SymbolEncoder(["F7"]).sizes()))
    fc = am.variance_adaptor.duration_predictor.fc
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.fill_(math.log(FRAMES_PER_PHONE + 1))
    torch.save({"model": am.state_dict()}, voice / "am" / "ckpt" / "checkpoint_0.pth")
    (voice / "am" / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "model_type": "sambert",
                "Model": {"KanTtsSAMBERT": {"params": {}}},
                "linguistic_unit": {"speaker_list": "F7"},
                "audio_config": _AUDIO,
            }
        )
    )
    voc = KanttsGenerator(KanttsGeneratorConfig.from_params(_VOC_PARAMS))
    torch.save(
        {"model": {"generator": voc.state_dict()}},
        voice / "voc" / "ckpt" / "checkpoint_0.pth",
    )
    (voice / "voc" / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "model_type": "hifigan",
                "Model": {"Generator": {"params": _VOC_PARAMS}},
                "audio_config": _AUDIO,
            }
        )
    )
    return BenchWeights(asdict(am.cfg), am.state_dict(), voc.state_dict())


@contextmanager
def _model_dir(keep: str | None) -> Iterator[Path]:
    """``keep`` (created; must be empty) if given, else a temporary folder."""
    if keep is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)
        return
    root = Path(keep)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise SystemExit(f"--model-dir {root} is not empty")
    yield root


def _median_time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn`` after one warm-up call.

    CPU time (all threads of this process) is reported beside wall time because
    on a shared machine wall time mostly measures the neighbours.
    """
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def run(args: argparse.Namespace) -> int:
    from acoustic_svc import load_acoustic_model
    from vocoder_svc import load_vocoder
    from vocoder_svc.precision import default_dtype

    if args.reference_wheel:  # a wrong wheel fails now, not after the timings
        from ttsctl.bench_reference import reference_members

        reference_members(Path(args.reference_wheel))
    torch.set_num_threads(args.threads)
    symbols = (
        Path(args.symbols_file).read_text().strip()
        if args.symbols_file
        else _SENTENCE.read_text().strip()
    )
    with _model_dir(args.model_dir) as root:
        weights = _write_voice(root)
        am = load_acoustic_model(root)
        voc = load_vocoder(root, device=args.device, dtype=args.dtype)
    mel = am.mel(symbols)
    seconds = mel.shape[0] * am.hop_length / am.sample_rate
    t_am, cpu_am = _median_time(lambda: am.mel(symbols), args.repeats)
    t_voc, cpu_voc = _median_time(lambda: voc.wave(mel), args.repeats)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"sentence: {len(symbols.split())} tokens, {mel.shape[0]} frames, "
        f"{seconds:.2f} s audio; {args.threads} threads, median of {args.repeats}"
    )
    print(
        f"acoustic: {t_am * 1e3:7.1f} ms wall, {cpu_am * 1e3:7.1f} ms CPU  "
        f"RTF {t_am / seconds:.4f}  (reference 270 ms wall)"
    )
    print(
        f"vocoder:  {t_voc * 1e3:7.1f} ms wall, {cpu_voc * 1e3:7.1f} ms CPU  "
        f"RTF {t_voc / seconds:.4f}  (reference 150 ms wall; {args.device}, "
        f"{args.dtype or default_dtype(args.device)})"
    )
    if args.batch > 1:
        mels = [mel] * args.batch
        t_batch, _ = _median_time(lambda: voc.wave_batch(mels), args.repeats)
        print(
            f"vocoder batch of {args.batch}: {t_batch * 1e3:7.1f} ms wall, "
            f"{args.batch * seconds / t_batch:.1f} s of audio per second"
        )
    if torch.cuda.is_available() and args.device.startswith("cuda"):
        gpu_mib = torch.cuda.max_memory_allocated(args.device) / 2**20
        print(f"peak CUDA memory allocated: {gpu_mib:.0f} MiB")
    print(
        f"load average at the end: {os.getloadavg()[0]:.2f} "
        f"(above ~0.5 the timings are disturbed)"
    )
    print(f"peak RSS: {peak_mib:.0f} MiB")
    if args.reference_wheel:
        _compare_with_reference(args, weights, am, voc, symbols, mel)
    return 0


def _paired_ratio(ours: Any, theirs: Any, repeats: int) -> tuple[float, float, float]:
    """Median wall seconds of each, and the median of per-pair time ratios.

    The two alternate run by run, so drift on a shared machine (which moves single
    timings by 20% here) hits both sides of each pair alike.
    """
    ours(), theirs()  # warm-up
    mine, ref, ratios = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours()
        mid = time.perf_counter()
        theirs()
        end = time.perf_counter()
        mine.append(mid - start)
        ref.append(end - mid)
        ratios.append((end - mid) / (mid - start))
    return statistics.median(mine), statistics.median(ref), statistics.median(ratios)


def _compare_with_reference(
    args: argparse.Namespace,
    weights: BenchWeights,
    am: Any,
    voc: Any,
    symbols: str,
    mel: Any,
) -> None:
    """Time the reference KAN-TTS models against ours on the same weights and inputs,
    and check that they agree."""
    from acoustic_svc.encoding import SymbolEncoder
    from ttsctl.bench_reference import ReferenceModels

    ref = ReferenceModels(
        Path(args.reference_wheel),
        weights.am_config,
        weights.am_state,
        _VOC_PARAMS,
        weights.voc_state,
    )
    ids = SymbolEncoder(["F7"]).encode(symbols, None, None)
    ling, emo, spk = (torch.as_tensor(x) for x in (ids.ling, ids.emotion, ids.speaker))
    mel_t = torch.as_tensor(mel)
    d_mel = float((ref.mel(ling, emo, spk) - mel_t).abs().max())
    d_wave = float((ref.wave(mel_t) - torch.as_tensor(voc.wave(mel))).abs().max())
    rows = (
        (
            "acoustic",
            lambda: am.mel(symbols),
            lambda: ref.mel(ling, emo, spk),
            3.0,
            f"mel max abs diff {d_mel:.1e}",
        ),
        (
            "vocoder",
            lambda: voc.wave(mel),
            lambda: ref.wave(mel_t),
            1.2,
            f"wave max abs diff {d_wave:.1e}",
        ),
    )
    print(
        f"against the reference KAN-TTS code ({Path(args.reference_wheel).name}), "
        f"same weights, alternating runs, {args.repeats} pairs:"
    )
    for name, ours, theirs, target, diff in rows:
        t_ours, t_ref, ratio = _paired_ratio(ours, theirs, args.repeats)
        print(
            f"  {name:8s} ours {t_ours * 1e3:6.1f} ms, reference {t_ref * 1e3:6.1f} ms: "
            f"{ratio:.2f}x faster (target {target}x); {diff}"
        )
