"""Step 4: train the demo Sambert, resumably (CUDA when present, else CPU).

One checkpoint file holds model, optimizer, step, data-order position and RNG
states. It is written atomically every ``--save-every`` steps and when the process
gets SIGTERM/SIGINT, and training resumes from it exactly (the next step's loss is
the same as without the stop). The dataset file is re-read when ``align`` rewrites
it, so training can start while the teacher is still producing data.

    nohup .venv/bin/python -m training.train --size tiny > training/runs/train.log 2>&1 &

On a machine with idle cores, one process per core splits every batch
(``training.parallel``; same batches, same steps, same checkpoint file):

    nohup .venv/bin/torchrun --standalone --nproc-per-node 2 -m training.train \
        --size small --ckpt training/checkpoint/demo-small.pt > train.log 2>&1 &
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

# Spinning OpenMP workers were measured to waste most of a step on a shared 2-core
# machine (one thread spins while the other is descheduled); must precede torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from acoustic_svc.encoding import SymbolEncoder
from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.sambert import Sambert
from training.data import Dataset
from training.forward import forward, losses
from training.parallel import Group, join
from training.sizes import SIZES

_LOGGER = logging.getLogger("train")
ROOT = Path(__file__).resolve().parent
SPEAKERS = ["F7"]


def build_model(size: str | dict[str, Any]) -> Sambert:
    """A Sambert of a named size (``training.sizes``) or explicit yaml params."""
    params = SIZES[size] if isinstance(size, str) else size
    return Sambert(SambertConfig.from_params(params, SymbolEncoder(SPEAKERS).sizes()))


def learning_rate(step: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then inverse square-root decay (Noam shape)."""
    step = max(step, 1)
    decay: float = (
        warmup / step
    ) ** 0.5  # float ** float is typed Any (it may be complex)
    return peak * min(step / warmup, decay)


class Trainer:
    """Owns model, optimizer, data order and the checkpoint file."""

    def __init__(
        self, args: argparse.Namespace, device: torch.device, group: Group | None = None
    ) -> None:
        self.args, self.device = args, device
        self.group = group or Group()
        self.model = build_model(args.size).to(device)
        self.optim = torch.optim.Adam(
            self.model.parameters(),
            lr=args.lr,
            betas=(0.9, 0.98),
            eps=1e-9,
            foreach=True,
        )
        # An exponential moving average of the weights, which export writes: it
        # smooths the step-to-step wander that made neighbouring checkpoints score
        # SER 5.5% and 6.3% (#15). Its first update copies the weights.
        self.ema = AveragedModel(
            self.model, multi_avg_fn=get_ema_multi_avg_fn(args.ema_decay)
        )
        self.step, self.epoch, self.cursor = 0, 0, 0
        self.data = Dataset(args.data)
        self.data_mtime = args.data.stat().st_mtime
        self.stop = False

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optim": self.optim.state_dict(),
            "ema": self.ema.module.state_dict(),  # named like "model"
            "ema_updates": int(self.ema.n_averaged),
            "step": self.step,
            "epoch": self.epoch,
            "cursor": self.cursor,
            "size": self.args.size,
            "n_utts": len(self.data),
            "torch_rng": torch.get_rng_state(),
            "py_rng": random.getstate(),
            "cuda_rng": (
                torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
            ),
        }

    def save(self) -> None:
        if not self.group.leader:
            return
        path: Path = self.args.ckpt
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)  # a reader never sees a half-written checkpoint
        _LOGGER.info("saved %s at step %d", path, self.step)

    def load(self) -> None:
        ckpt = torch.load(self.args.ckpt, map_location=self.device, weights_only=False)
        if ckpt["size"] != self.args.size:
            raise SystemExit(
                f"{self.args.ckpt} is a {ckpt['size']!r} model, not {self.args.size!r}"
            )
        self.model.load_state_dict(ckpt["model"])
        self.optim.load_state_dict(ckpt["optim"])
        if "ema" in ckpt:  # older checkpoints start their average on the next step
            self.ema.module.load_state_dict(ckpt["ema"])
            self.ema.n_averaged.fill_(ckpt["ema_updates"])
        self.step, self.epoch, self.cursor = ckpt["step"], ckpt["epoch"], ckpt["cursor"]
        torch.set_rng_state(ckpt["torch_rng"].cpu())
        random.setstate(ckpt["py_rng"])
        if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        if ckpt.get("n_utts", len(self.data)) != len(self.data):
            self.cursor = 0  # the data grew: the old order no longer applies
            self.epoch += 1
        if not self.group.leader:  # its own dropout masks, reproducibly
            torch.manual_seed(1_000_003 * self.group.rank + self.step)
        _LOGGER.info("resumed %s at step %d", self.args.ckpt, self.step)

    def _maybe_reload(self) -> None:
        mtime = self.args.data.stat().st_mtime
        if mtime != self.data_mtime:
            self.data = Dataset(self.args.data)
            self.data_mtime = mtime
            self.cursor, self.epoch = 0, self.epoch + 1
            _LOGGER.info("dataset reloaded: %d utterances", len(self.data))

    def train_step(self) -> dict[str, float]:
        """One optimisation step on the next batch; returns the losses."""
        batches = self.data.batches(
            self.args.batch_size, seed=self.args.seed + self.epoch
        )
        if self.cursor >= len(batches):
            self.cursor, self.epoch = 0, self.epoch + 1
            batches = self.data.batches(
                self.args.batch_size, seed=self.args.seed + self.epoch
            )
        batch = self.data.collate(self.group.share(batches[self.cursor]))
        batch = batch.to(self.device)
        self.cursor += 1
        if random.random() < 0.5:
            # Half the time every token says "neutral" (what an explicit emotion
            # request writes, breaks included); otherwise breaks keep the frontend's
            # emotion_none, so both kinds of request are in-distribution.
            batch.emo = torch.full_like(batch.emo, self.data.neutral_id)
        self.model.train()
        for group in self.optim.param_groups:
            group["lr"] = learning_rate(self.step + 1, self.args.lr, self.args.warmup)
        parts = losses(forward(self.model, batch, self.args.prenet_dropout), batch)
        self.optim.zero_grad(set_to_none=True)
        parts["total"].backward()
        self.group.average_gradients(list(self.model.parameters()))
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optim.step()
        self.ema.update_parameters(self.model)
        self.step += 1
        return {k: float(v.detach()) for k, v in parts.items()}

    def run(self) -> None:
        t0, last = time.time(), self.step
        while self.step < self.args.steps:
            parts = self.train_step()
            if self.step % self.args.log_every == 0:
                rate = (time.time() - t0) / max(self.step - last, 1)
                t0, last = time.time(), self.step
                _LOGGER.info(
                    "step %d %.2fs/step lr %.2e %s",
                    self.step,
                    rate,
                    self.optim.param_groups[0]["lr"],
                    " ".join(f"{k} {v:.4f}" for k, v in parts.items()),
                )
            if self.step % self.args.save_every == 0:
                self.save()
                self._maybe_reload()
            if self.group.any(self.stop):
                break
        self.save()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "dataset.pt")
    parser.add_argument("--ckpt", type=Path, default=ROOT / "checkpoint" / "demo.pt")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--prenet-dropout", type=float, default=0.5)
    parser.add_argument(
        "--ema-decay",
        type=float,
        default=0.998,
        help="weight average kept for export (0.998: about the last 500 steps)",
    )
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    args = parse_args(argv)
    group = join()
    logging.basicConfig(
        level=logging.INFO if group.leader else logging.WARNING,
        format="%(asctime)s %(message)s",
    )
    torch.set_num_threads(args.threads)
    # Trained weights drive some backward intermediates into denormal floats, which
    # x86 handles in microcode: measured 10x slower steps (3.2 s vs 0.6 s) without this.
    torch.set_flush_denormal(True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    trainer = Trainer(args, device, group)
    if args.ckpt.is_file():
        trainer.load()

    def request_stop(signum: int, _frame: object) -> None:
        _LOGGER.info("signal %d: saving after this step", signum)
        trainer.stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    n_params = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    _LOGGER.info(
        "size %s (%.2f M params) on %s x %d, %d utterances",
        args.size,
        n_params / 1e6,
        device,
        group.world,
        len(trainer.data),
    )
    trainer.run()
    group.close()


if __name__ == "__main__":
    main()
