"""What every decoder loop shares: the start state, the tokens it may never emit, and stripping </s>."""

from __future__ import annotations

from collections.abc import Callable

import torch

from textvae.data.vocab import BOS, EOS, PAD, UNK
from textvae.models.vae import TextVAE, eval_mode


def banned_tokens(ban_unk: bool) -> list[int]:
    """Ids a decoder never emits: <pad> and <bos>, and <unk> with ``ban_unk``."""
    return [PAD, BOS, UNK] if ban_unk else [PAD, BOS]


def start(model: TextVAE, z: torch.Tensor | None, batch_size: int) -> tuple[object, torch.Tensor]:
    """Initial decoder state and first input (<bos>) for B = len(z) rows (``batch_size`` rows without z)."""
    b = z.shape[0] if z is not None else batch_size
    device = z.device if z is not None else next(model.parameters()).device
    return model.decoder.init_state(z, b, device), torch.full((b,), BOS, dtype=torch.long, device=device)


def strip_eos(rows: list[list[int]]) -> list[list[int]]:
    """Token ids up to (not including) the first </s>."""
    return [row[: row.index(EOS)] if EOS in row else row for row in rows]


def decode_loop(model: TextVAE, z: torch.Tensor | None, pick: Callable[[torch.Tensor], torch.Tensor],
                max_len: int, batch_size: int, ban_unk: bool) -> list[list[int]]:
    """Left-to-right decoding of B rows at once: ``pick`` maps the step's logits (B, V), banned tokens at
    -inf, to the next tokens (B,). Stops when every row has produced </s>; returns ids without </s>."""
    banned = banned_tokens(ban_unk)
    with eval_mode(model):
        state, tok = start(model, z, batch_size)
        done = torch.zeros_like(tok, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            logits, state = model.decoder.step(tok, state, z)
            logits[:, banned] = float("-inf")
            tok = pick(logits)
            out.append(torch.where(done, torch.full_like(tok, EOS), tok))
            done |= tok == EOS
            if bool(done.all()):
                break
    return strip_eos(torch.stack(out, 1).tolist())
