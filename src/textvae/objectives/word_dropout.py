"""Word dropout (Bowman et al. 2016, section 3.2): corrupt the decoder's conditioned-on words."""

from __future__ import annotations

import torch

from textvae.data.vocab import BOS, PAD, UNK


def word_dropout(inp: torch.Tensor, keep: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each word of ``inp`` (B, L) by <unk> with probability 1 - keep; <bos> and <pad> stay."""
    if keep >= 1.0:
        return inp
    words = (inp != BOS) & (inp != PAD)
    drop = torch.rand(inp.shape, generator=generator, device=inp.device) >= keep
    return torch.where(words & drop, torch.full_like(inp, UNK), inp)
