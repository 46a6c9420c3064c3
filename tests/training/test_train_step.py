"""The training forward pass: it learns, resumes exactly, and matches inference."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.sambert import Sambert
from training.forward import Batch, decoder_parallel, forward, losses, pack
from training.sizes import SIZES

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MICRO = {
    **SIZES["tiny"],
    "embedding_dim": 32,
    "encoder_num_layers": 1,
    "encoder_num_heads": 2,
    "encoder_num_units": 16,
    "encoder_ffn_inner_dim": 32,
    "encoder_projection_units": 8,
    "speaker_units": 4,
    "emotion_units": 4,
    "predictor_fsmn_num_layers": 1,
    "predictor_num_memory_units": 8,
    "predictor_ffn_inner_dim": 16,
    "predictor_lstm_units": 8,
    "dur_pred_prenet_units": [8, 8],
    "dur_pred_lstm_units": 8,
    "decoder_prenet_units": [16, 16],
    "decoder_num_layers": 2,
    "decoder_num_heads": 2,
    "decoder_num_units": 16,
    "decoder_ffn_inner_dim": 32,
    "num_mels": 10,
    "postnet_fsmn_num_layers": 2,
    "postnet_num_memory_units": 16,
    "postnet_ffn_inner_dim": 16,
    "postnet_lstm_units": 8,
}
SIZES_IDS = {
    "n_sy": 147,
    "n_tone": 10,
    "n_syllable_flag": 8,
    "n_word_segment": 8,
    "n_emotion": 36,
    "n_speaker": 4,
}


def _model(seed: int = 0) -> Sambert:
    torch.manual_seed(seed)
    return Sambert(SambertConfig.from_params(MICRO, SIZES_IDS))


def _batch(seed: int = 0, n_mels: int = 10) -> Batch:
    g = torch.Generator().manual_seed(seed)
    n_tokens = torch.tensor([9, 6])
    dur = torch.randint(0, 6, (2, 9), generator=g)
    dur[1, 6:] = 0
    n_frames = dur.sum(1)
    f_max = -(-int(n_frames.max()) // 3) * 3
    mel = torch.randn(2, f_max, n_mels, generator=g)
    mel = mel * (torch.arange(f_max)[None, :, None] < n_frames[:, None, None])
    ling = torch.stack(
        [
            torch.randint(0, 140, (2, 9), generator=g),
            torch.randint(0, 7, (2, 9), generator=g),
            torch.randint(0, 5, (2, 9), generator=g),
            torch.randint(0, 5, (2, 9), generator=g),
        ],
        dim=-1,
    )
    pitch = torch.randn(2, 9, generator=g)
    pitch[1, 6:] = 0
    return Batch(
        ling,
        torch.ones(2, 9, dtype=torch.long),
        torch.zeros(2, 9, dtype=torch.long),
        dur,
        pitch,
        pitch.clone() * 0.5,
        mel,
        n_tokens,
        n_frames,
    )


def test_steps_reduce_loss():
    model, batch = _model(), _batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        loss = losses(forward(model, batch, prenet_dropout=0.0), batch)["total"]
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first is not None
    assert float(loss) < 0.8 * first


def test_pack_matches_inference_pack():
    model = _model()
    va = model.variance_adaptor
    aug, spk, emo = torch.randn(5, 8), torch.randn(5, 4), torch.randn(5, 4)
    reps = torch.tensor([2, 0, 3, 1, 4])
    torch.testing.assert_close(
        pack(va, aug, spk, emo, reps, 10), va._pack(aug, spk, emo, reps, 10)
    )


def test_parallel_decoder_equals_inference_steps():
    """Fed the frames the inference decoder produced, the teacher-forced decoder
    reproduces them: same maths, band masks included."""
    model = _model().eval()
    torch.manual_seed(3)
    memory = torch.randn(7, model.cfg.memory_dim)
    for bw in (0, 1, 2, 10):
        with torch.no_grad():
            steps = list(model.mel_decoder.steps(memory, bw))
            ref = torch.stack(steps)  # [N, r, mels]
            prev = torch.cat([torch.zeros(1, 10), ref[:-1, -1]])[None]
            got = decoder_parallel(
                model, memory[None], prev, torch.tensor([7]), torch.tensor([bw])
            )
        torch.testing.assert_close(got[0], ref.reshape(-1, 10), atol=1e-5, rtol=1e-4)


def test_padding_does_not_change_an_utterance():
    """An utterance's outputs are the same alone and in a padded batch."""
    model, batch = _model().eval(), _batch()
    with torch.no_grad():
        both = forward(model, batch, 0.0)
        one = Batch(**{k: v[1:2] for k, v in vars(batch).items()})
        f1 = -(-int(one.n_frames[0]) // 3) * 3
        one.mel, one = one.mel[:, :f1], one
        one = Batch(
            **{
                **vars(one),
                **{
                    k: getattr(one, k)[:, :6]
                    for k in ("ling", "emo", "spk", "dur", "pitch", "energy")
                },
            }
        )
        alone = forward(model, one, 0.0)
    torch.testing.assert_close(both.pitch[1, :6], alone.pitch[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(
        both.log_dur[1, :6], alone.log_dur[0], atol=1e-5, rtol=1e-4
    )
    torch.testing.assert_close(both.post[1, :f1], alone.post[0], atol=1e-4, rtol=1e-4)


def _write_dataset(path: Path, n_utts: int = 6) -> Path:
    g = torch.Generator().manual_seed(1)
    toks, frames, durs = [], [], []
    for _ in range(n_utts):
        t = int(torch.randint(4, 9, (1,), generator=g))
        d = torch.randint(0, 5, (t,), generator=g)
        d[0] += 1
        toks.append(t)
        durs.append(d)
        frames.append(int(d.sum()))
    n_tok, n_frm = sum(toks), sum(frames)
    data = {
        "ids": [f"u{i}" for i in range(n_utts)],
        "tok_off": torch.tensor([0, *torch.tensor(toks).cumsum(0).tolist()]),
        "mel_off": torch.tensor([0, *torch.tensor(frames).cumsum(0).tolist()]),
        "mel": torch.randn(n_frm, MICRO["num_mels"], generator=g).half(),
        "ling": torch.randint(0, 5, (n_tok, 4), generator=g),
        "emo": torch.ones(n_tok, dtype=torch.long),
        "spk": torch.zeros(n_tok, dtype=torch.long),
        "dur": torch.cat(durs),
        "pitch": torch.randn(n_tok, generator=g),
        "energy": torch.randn(n_tok, generator=g),
    }
    torch.save(data, path)
    return path


def test_checkpoint_resume_continues_identically(tmp_path, monkeypatch):
    from training import sizes, train

    monkeypatch.setitem(sizes.SIZES, "micro", MICRO)  # the dict train.SIZES names
    monkeypatch.setattr(train, "SymbolEncoder", lambda _speakers: _Sizes())
    data = _write_dataset(tmp_path / "ds.pt")
    args: argparse.Namespace = train.parse_args(
        [
            "--size",
            "micro",
            "--data",
            str(data),
            "--ckpt",
            str(tmp_path / "c.pt"),
            "--batch-size",
            "2",
            "--threads",
            "1",
            "--warmup",
            "2",
        ]
    )
    torch.manual_seed(0)
    first = train.Trainer(args, torch.device("cpu"))
    for _ in range(4):  # crosses an epoch boundary (3 batches per epoch)
        first.train_step()
    first.save()
    expected = [first.train_step() for _ in range(2)]
    torch.manual_seed(99)  # a different process state: the checkpoint must restore it
    second = train.Trainer(args, torch.device("cpu"))
    second.load()
    assert second.step == 4
    assert [second.train_step() for _ in range(2)] == expected
    # The weights' moving average resumes too.
    assert int(second.ema.n_averaged) == int(first.ema.n_averaged) == 6
    for a, b in zip(first.ema.parameters(), second.ema.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_moving_average_follows_the_weights(tmp_path, monkeypatch):
    """ema = decay * ema + (1 - decay) * weights after each step; the first step
    copies the weights."""
    from training import sizes, train

    monkeypatch.setitem(sizes.SIZES, "micro", MICRO)
    monkeypatch.setattr(train, "SymbolEncoder", lambda _speakers: _Sizes())
    data = _write_dataset(tmp_path / "ds.pt")
    flags = ["--size", "micro", "--batch-size", "2", "--threads", "1"]
    flags += ["--ema-decay", "0.5"]
    args = train.parse_args(
        [*flags, "--data", str(data), "--ckpt", str(tmp_path / "c.pt")]
    )
    trainer = train.Trainer(args, torch.device("cpu"))
    expected: list[torch.Tensor] = []
    for step in range(3):
        trainer.train_step()
        now = [p.detach().clone() for p in trainer.model.parameters()]
        expected = (
            now
            if step == 0
            else [0.5 * e + 0.5 * w for e, w in zip(expected, now, strict=True)]
        )
    got = list(trainer.ema.parameters())
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    assert any(
        not torch.equal(g, w)
        for g, w in zip(got, trainer.model.parameters(), strict=True)
    )


class _Sizes:
    def sizes(self) -> dict[str, int]:
        return SIZES_IDS
