"""Teacher-forced training forward pass over the inference modules of ``acoustic_svc.nn``.

Uses the very parameters of :class:`acoustic_svc.nn.sambert.Sambert` (so the trained
state dict loads with ``load_acoustic_model``), but runs batched and in parallel:

* pitch/energy predictors predict phone-level targets; the adaptor is conditioned on
  the *targets* (FastSpeech 2 style);
* the duration predictor's LSTM sees the ground-truth previous log(d+1) (teacher
  forcing, as KAN-TTS trains it) and is run over the whole sequence at once;
* the length regulator uses the target durations (``VarianceAdaptor._pack``);
* the PNCA decoder runs all steps at once with band masks (self side: steps
  [i-bw, i]; memory side: steps [i, i+bw]) and the previous step's last
  ground-truth frame as prenet input (zeros for step 0) -- the inference decoder
  fed the same frames gives the same output (tests/training/test_train_step.py);
* FSMN layers zero padded frames at every layer, which is what the inference code's
  sequence edges amount to.

Dropout is functional (the modules have none): only on the decoder prenet by
default, because it forces the decoder to use the text memory rather than copy the
previous frame (KAN-TTS uses 0.5 there), and because dropout elsewhere costs a lot
of CPU time per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from acoustic_svc.nn.adaptor import FsmnRnnPredictor, VarianceAdaptor
from acoustic_svc.nn.layers import FsmnEncoder, Prenet
from acoustic_svc.nn.sambert import Sambert

__all__ = ["Batch", "Outputs", "decoder_parallel", "forward", "losses", "pack"]


@dataclass
class Batch:
    """Padded training batch (B utterances, T tokens, F frames with F % r == 0)."""

    ling: torch.Tensor  # int64 [B, T, 4]
    emo: torch.Tensor  # int64 [B, T]
    spk: torch.Tensor  # int64 [B, T]
    dur: torch.Tensor  # int64 [B, T] frames per token (0 at padding)
    pitch: torch.Tensor  # float [B, T]
    energy: torch.Tensor  # float [B, T]
    mel: torch.Tensor  # float [B, F, num_mels] (0 past each n_frames)
    n_tokens: torch.Tensor  # int64 [B]
    n_frames: torch.Tensor  # int64 [B]

    def to(self, device: torch.device) -> Batch:
        return Batch(**{k: v.to(device) for k, v in vars(self).items()})


@dataclass
class Outputs:
    """Predictions of one training forward pass."""

    log_dur: torch.Tensor  # [B, T]
    pitch: torch.Tensor  # [B, T]
    energy: torch.Tensor  # [B, T]
    dec: torch.Tensor  # [B, F, num_mels] decoder output
    post: torch.Tensor  # [B, F, num_mels] after the postnet


def _valid(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """Bool [B, size]: True inside each sequence."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def fsmn_masked(
    fsmn: FsmnEncoder, x: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """FSMN over a padded batch, x [B, T, C]; frames outside each sequence read as 0."""
    mask = valid[:, None, :].to(x.dtype)
    y = x.transpose(1, 2) * mask
    for ffn, block in zip(fsmn.ffn_lst, fsmn.memory_block_lst, strict=True):
        ctx = ffn(y) * mask
        mem = block.conv_dw(F.pad(ctx, (block.lp, block.rp))) + ctx
        if mem.shape[1] == y.shape[1]:
            mem = mem + y
        y = mem * mask
    return y.transpose(1, 2)


def _predictor(
    pred: FsmnRnnPredictor, x: torch.Tensor, lengths: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """FSMN -> BiLSTM -> fc, with padding never reaching either LSTM direction.

    Packed sequences would do that but run the LSTM step by step in Python on CPU
    (measured: most of a step's time), so the BiLSTM runs twice on whole tensors:
    left-aligned for the forward direction and right-aligned (each sequence shifted
    to end at T) for the backward one.
    """
    h = fsmn_masked(pred.fsmn, x, valid)
    t = h.shape[1]
    shift = (t - lengths)[:, None]
    pos = torch.arange(t, device=h.device)[None, :]
    right_idx = ((pos - shift) % t)[..., None].expand_as(h)  # right-aligned view
    fwd, _ = pred.blstm(h)
    bwd, _ = pred.blstm(torch.gather(h, 1, right_idx))
    units = pred.blstm.hidden_size
    back_idx = ((pos + shift) % t)[..., None].expand(-1, -1, units)
    bwd = torch.gather(bwd[..., units:], 1, back_idx)  # back to left-aligned
    out: torch.Tensor = pred.fc(torch.cat([fwd[..., :units], bwd], dim=-1))
    return out.squeeze(-1)


def _prenet(prenet: Prenet, x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    for i, layer in enumerate(prenet.fcs.values()):
        x = layer(x)
        if i < prenet.n_hidden:
            x = F.dropout(F.relu(x), p, training)
    return x


def band_masks(
    n_steps: torch.Tensor, bw: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Allowed-attention masks [B, size, size] for the self (x) and memory (h) sides.

    Query rows past an utterance's end may see every step: they are discarded, and
    an all-masked row would put NaN into the gradients.
    """
    i = torch.arange(size, device=bw.device)[None, :, None]
    j = torch.arange(size, device=bw.device)[None, None, :]
    w = bw[:, None, None]
    pad_row = i >= n_steps[:, None, None]
    x_ok = ((j <= i) & (j >= i - w)) | pad_row
    h_ok = ((j >= i) & (j <= i + w) & (j < n_steps[:, None, None])) | pad_row
    return x_ok, h_ok


def decoder_parallel(
    model: Sambert,
    memory: torch.Tensor,
    prev: torch.Tensor,
    n_steps: torch.Tensor,
    bw: torch.Tensor,
    prenet_dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """All PNCA decoder steps at once.

    Args:
        memory: [B, N, memory_dim]; prev: [B, N, num_mels] prenet input per step.
        n_steps: [B] real steps; bw: [B] band widths.
    Returns: [B, N * r, num_mels].
    """
    dec = model.mel_decoder.mel_dec
    b, n, _ = memory.shape
    h, dh = model.mel_decoder.n_head, model.mel_decoder.d_head
    d = model.mel_decoder.d_model
    a = _prenet(dec.prenet, prev, prenet_dropout, training)
    u = dec.dec_in_proj(torch.cat([memory, a], dim=-1)) * math.sqrt(d)
    x_ok, h_ok = band_masks(n_steps, bw, n)
    neg = torch.finfo(u.dtype).min
    x_bias = torch.zeros(b, 1, n, n, dtype=u.dtype, device=u.device).masked_fill(
        ~x_ok[:, None], neg
    )
    h_bias = torch.zeros_like(x_bias).masked_fill(~h_ok[:, None], neg)

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, n, h, dh).transpose(1, 2)

    for block in dec.pnca:
        att, ffn = block.pnca_attn, block.pos_ffn
        q, k, v = att.w_x_qkv(att.layer_norm(u)).chunk(3, dim=-1)
        kh, vh = att.w_h_kv(memory).chunk(2, dim=-1)
        q = heads(q)
        ctx_x = F.scaled_dot_product_attention(q, heads(k), heads(v), attn_mask=x_bias)
        ctx_h = F.scaled_dot_product_attention(
            q, heads(kh), heads(vh), attn_mask=h_bias
        )
        merge = lambda c: c.transpose(1, 2).reshape(b, n, h * dh)  # noqa: E731
        u = u + att.fc_x(merge(ctx_x)) + att.fc_h(merge(ctx_h))
        y = ffn.layer_norm(u).transpose(1, 2)
        u = u + ffn.w_2(F.relu(ffn.w_1(y))).transpose(1, 2)
    out: torch.Tensor = dec.dec_out_proj(dec.ln(u))
    return out.view(b, -1, model.cfg.num_mels)


def pack(
    va: VarianceAdaptor,
    aug: torch.Tensor,
    spk: torch.Tensor,
    emo: torch.Tensor,
    reps: torch.Tensor,
    n_frames: int,
) -> torch.Tensor:
    """``VarianceAdaptor._pack`` (length regulation + duration positions + r-frame
    packing) written device-agnostic, so training also runs on CUDA."""
    r, dev = va.r, aug.device
    n_steps = -(-n_frames // r)
    pad = n_steps * r - n_frames
    text = torch.repeat_interleave(aug, reps, dim=0)
    starts = torch.cumsum(reps, 0) - reps
    pos = torch.arange(n_frames, device=dev) - torch.repeat_interleave(starts, reps) + 1
    pos = F.pad(pos.to(text.dtype), (0, pad))
    angle = pos[:, None] / va.dur_position_encoder.inv_timescales[None, :]
    even = torch.arange(angle.shape[1], device=dev) % 2 == 0
    pe = torch.where(even, torch.sin(angle), torch.cos(angle))
    text = F.pad(text, (0, 0, 0, pad)) + pe
    idx = torch.repeat_interleave(torch.arange(len(reps), device=dev), reps)
    idx = F.pad(idx, (0, pad), value=-1)[torch.arange(n_steps, device=dev) * r]
    ok = (idx >= 0)[:, None]
    spk_steps = torch.where(ok, spk[idx.clamp(min=0)], 0.0)
    emo_steps = torch.where(ok, emo[idx.clamp(min=0)], 0.0)
    return torch.cat([text.reshape(n_steps, -1), spk_steps, emo_steps], dim=-1)


def forward(model: Sambert, batch: Batch, prenet_dropout: float = 0.5) -> Outputs:
    """Teacher-forced forward of a padded batch."""
    cfg, va, r = model.cfg, model.variance_adaptor, model.cfg.outputs_per_step
    bsz, t = batch.emo.shape
    tok_ok = _valid(batch.n_tokens, t)
    pad = ~tok_ok
    text = model.text_encoder(batch.ling, pad).masked_fill(pad[..., None], 0.0)
    spk, emo = model.spk_tokenizer(batch.spk), model.emo_tokenizer(batch.emo)
    vin = torch.cat([text, spk, emo], dim=-1)
    pitch = _predictor(va.pitch_predictor, vin, batch.n_tokens, tok_ok)
    energy = _predictor(va.energy_predictor, vin, batch.n_tokens, tok_ok)
    aug = (
        text
        + va.pitch_emb(batch.pitch[:, None]).transpose(1, 2)
        + va.energy_emb(batch.energy[:, None]).transpose(1, 2)
    )
    aug = aug.masked_fill(pad[..., None], 0.0)
    log_target = torch.log(batch.dur.to(aug.dtype) + 1.0)
    prev = F.pad(log_target[:, :-1], (1, 0))[..., None]
    dp = va.duration_predictor
    z, _ = dp.lstm(torch.cat([dp.prenet(prev), aug, spk, emo], dim=-1))
    log_dur = dp.fc(z).squeeze(-1)

    n_steps = (batch.n_frames + r - 1) // r
    n_max = batch.mel.shape[1] // r
    memory = aug.new_zeros(bsz, n_max, cfg.memory_dim)
    for i in range(bsz):
        nt, nf = int(batch.n_tokens[i]), int(batch.n_frames[i])
        mem = pack(va, aug[i, :nt], spk[i, :nt], emo[i, :nt], batch.dur[i, :nt], nf)
        memory[i, : mem.shape[0]] = mem
    # Inference's band width formula, on the target durations.
    bw = ((batch.dur.max(dim=1).values.to(aug.dtype) / r) + 0.5).long()
    steps = batch.mel.view(bsz, n_max, r, cfg.num_mels)
    prev_frames = F.pad(steps[:, :-1, -1], (0, 0, 1, 0))
    dec = decoder_parallel(
        model, memory, prev_frames, n_steps, bw, prenet_dropout, model.training
    )
    frame_ok = _valid(batch.n_frames, dec.shape[1])
    dec = dec * frame_ok[..., None]
    post_in = fsmn_masked(model.mel_postnet.fsmn, dec, frame_ok)
    hidden, _ = model.mel_postnet.lstm(post_in)
    post = (dec + model.mel_postnet.fc(hidden)) * frame_ok[..., None]
    return Outputs(log_dur, pitch, energy, dec, post)


def losses(out: Outputs, batch: Batch) -> dict[str, torch.Tensor]:
    """L1 losses over the real tokens and frames; ``total`` is their sum."""
    tok = _valid(batch.n_tokens, batch.emo.shape[1]).to(out.pitch.dtype)
    frm = _valid(batch.n_frames, batch.mel.shape[1]).to(out.dec.dtype)[..., None]
    n_tok, n_frm = tok.sum(), frm.sum() * batch.mel.shape[-1]
    log_target = torch.log(batch.dur.to(out.log_dur.dtype) + 1.0)
    parts = {
        "dec": ((out.dec - batch.mel).abs() * frm).sum() / n_frm,
        "post": ((out.post - batch.mel).abs() * frm).sum() / n_frm,
        "dur": ((out.log_dur - log_target).abs() * tok).sum() / n_tok,
        "pitch": ((out.pitch - batch.pitch).abs() * tok).sum() / n_tok,
        "energy": ((out.energy - batch.energy).abs() * tok).sum() / n_tok,
    }
    first, *rest = parts.values()
    parts["total"] = sum(rest, start=first)  # a Tensor; sum()'s default start is int 0
    return parts
