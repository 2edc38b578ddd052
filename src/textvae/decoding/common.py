"""What every decoder loop shares: the start state, the tokens it may never emit, and stripping </s>."""

from __future__ import annotations

from collections.abc import Callable

import torch

from textvae.data.vocab import BOS, EOS, PAD, UNK
from textvae.models.interface import Decoder
from textvae.models.vae import eval_mode


def banned_tokens(ban_unk: bool) -> list[int]:
    """Ids a decoder never emits: <pad> and <bos>, and <unk> with ``ban_unk``."""
    return [PAD, BOS, UNK] if ban_unk else [PAD, BOS]


def start(decoder: Decoder, z: torch.Tensor | None, batch_size: int) -> tuple[object, torch.Tensor]:
    """Initial decoder state and first input (<bos>) for B = len(z) rows (``batch_size`` rows without z)."""
    b = z.shape[0] if z is not None else batch_size
    device = z.device if z is not None else next(decoder.parameters()).device
    return decoder.init_state(z, b, device), torch.full((b,), BOS, dtype=torch.long, device=device)


def strip_eos(rows: list[list[int]]) -> list[list[int]]:
    """Token ids up to (not including) the first </s>."""
    return [row[: row.index(EOS)] if EOS in row else row for row in rows]


def forced_at(forced: torch.Tensor | None, t: int) -> torch.Tensor | None:
    """Column t of ``forced`` (B, T) (the token each row must emit at step t, -1 where free), or None past T."""
    return forced[:, t] if forced is not None and t < forced.shape[1] else None


def last_forced(forced: torch.Tensor) -> torch.Tensor:
    """(B,) the last position with a forced token in each row of ``forced`` (B, T), -1 where none: a row may not
    end before it."""
    pos = torch.arange(forced.shape[1], device=forced.device)
    return torch.where(forced >= 0, pos, torch.full_like(pos, -1)).amax(1)


def decode_loop(decoder: Decoder, z: torch.Tensor | None, pick: Callable[[torch.Tensor], torch.Tensor],
                max_len: int, batch_size: int, ban_unk: bool, forced: torch.Tensor | None = None) -> list[list[int]]:
    """Left-to-right decoding of B rows at once: ``pick`` maps the step's logits (B, V), banned tokens at
    -inf, to the next tokens (B,). ``forced`` (B, T) long: the token a row must emit at step t (even a banned
    one; -1 where free; </s> at t: the row ends exactly there); a row cannot end before its last forced token.
    Stops when every row has produced </s>; returns ids without </s>."""
    banned = banned_tokens(ban_unk)
    with eval_mode(decoder):
        state, tok = start(decoder, z, batch_size)
        done = torch.zeros_like(tok, dtype=torch.bool)
        if forced is not None:
            forced = forced.to(tok.device)
            last = last_forced(forced)
        out = []
        for t in range(max_len):
            logits, state = decoder.step(tok, state, z)
            logits[:, banned] = float("-inf")
            if forced is not None:
                logits[t < last, EOS] = float("-inf")
            tok = pick(logits)
            f = forced_at(forced, t)
            if f is not None:
                tok = torch.where(f >= 0, f, tok)
            out.append(torch.where(done, torch.full_like(tok, EOS), tok))
            done |= tok == EOS
            if bool(done.all()):
                break
    return strip_eos(torch.stack(out, 1).tolist())
