"""Ancestral sampling with temperature, top-k and top-p (nucleus) truncation, batched."""

from __future__ import annotations

import torch

from textvae.decoding.common import decode_loop
from textvae.errors import BadValue
from textvae.models.interface import Decoder


def truncate_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                    top_p: float = 1.0) -> torch.Tensor:
    """logits (B, V) -> logits / temperature, with -inf outside the top-k tokens and outside the smallest
    set of most probable tokens whose probability reaches top_p (0 and 1.0 switch a filter off). The most
    probable token always survives."""
    if temperature <= 0:
        raise BadValue("temperature", f"must be > 0, got {temperature}")
    logits = logits.float() / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        above = probs.cumsum(-1) - probs  # probability of the tokens ranked above each one
        drop = torch.zeros_like(above, dtype=torch.bool).scatter(-1, order, above >= top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_decode(decoder: Decoder, z: torch.Tensor | None, max_len: int = 50, batch_size: int = 1,
                  temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, ban_unk: bool = False,
                  generator: torch.Generator | None = None, forced: torch.Tensor | None = None) -> list[list[int]]:
    """Sample x ~ p(x | z) token by token from codes z (B, Z) (``batch_size`` rows without z), through
    :func:`truncate_logits`. Returns token ids without </s>; stops when every row has ended. ``forced``: see
    :func:`textvae.decoding.common.decode_loop`."""
    def pick(logits: torch.Tensor) -> torch.Tensor:
        probs = truncate_logits(logits, temperature, top_k, top_p).softmax(-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    return decode_loop(decoder, z, pick, max_len, batch_size, ban_unk, forced)
