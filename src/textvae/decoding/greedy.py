"""Greedy decoding, batched, stopping when every sentence has produced </s>."""

from __future__ import annotations

import torch

from textvae.decoding.common import decode_loop
from textvae.models.interface import Decoder


def greedy_decode(decoder: Decoder, z: torch.Tensor | None, max_len: int = 50, batch_size: int = 1,
                  ban_unk: bool = False, forced: torch.Tensor | None = None) -> list[list[int]]:
    """argmax decoding from codes z (B, Z) (or ``batch_size`` unconditional rows for the RNNLM).
    Returns token ids without </s>, at most ``max_len``; <pad> and <bos> are never emitted, nor <unk> with
    ``ban_unk``. ``forced``: see :func:`textvae.decoding.common.decode_loop`."""
    return decode_loop(decoder, z, lambda logits: logits.argmax(-1), max_len, batch_size, ban_unk, forced)
