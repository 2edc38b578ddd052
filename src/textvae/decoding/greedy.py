"""Greedy decoding, batched, stopping when every sentence has produced </s>."""

from __future__ import annotations

import torch

from textvae.data.vocab import BOS, EOS, PAD, UNK
from textvae.models.vae import TextVAE


@torch.no_grad()
def greedy_decode(model: TextVAE, z: torch.Tensor | None, max_len: int = 50, batch_size: int = 1,
                  ban_unk: bool = False) -> list[list[int]]:
    """argmax decoding from codes z (B, Z) (or ``batch_size`` unconditional rows for the RNNLM).
    Returns token ids without </s>; <pad> and <bos> are never emitted, nor <unk> with ``ban_unk``."""
    was_training = model.training
    model.eval()
    dec = model.decoder
    b = z.shape[0] if z is not None else batch_size
    device = z.device if z is not None else next(model.parameters()).device
    state = dec.init_state(z, b, device)
    tok = torch.full((b,), BOS, dtype=torch.long, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    out = []
    for _ in range(max_len):
        logits, state = dec.step(tok, state, z)
        logits[:, PAD] = logits[:, BOS] = float("-inf")
        if ban_unk:
            logits[:, UNK] = float("-inf")
        tok = logits.argmax(-1)
        out.append(torch.where(done, torch.full_like(tok, EOS), tok))
        done |= tok == EOS
        if bool(done.all()):
            break
    model.train(was_training)
    ids = torch.stack(out, 1).tolist()
    return [row[: row.index(EOS)] if EOS in row else row for row in ids]
