"""The output layer onto the vocabulary, with its matrix product run on a row count padded to a multiple of 64.

A 10,002-word PTB vocabulary is an awkward GEMM size: on a 2-core AVX2 CPU the (N, 256) x (256, 10002) product
ran at 57-87 GFLOP/s against 99-144 at 10,048 rows (``benchmarks/speed_avx2``), and nll_iw, which is mostly that
product, ran 1.22x faster with the padding (side by side, the same samples). nanoGPT pads its vocabulary
parameter for the same reason; here the parameters keep their size (checkpoints, tied embeddings and every
consumer of the logits see V columns) and only the product is padded: zero weight rows and bias entries, whose
logits are cut off before anything sees them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VOCAB_ALIGN = 64
"""Rows of the padded product are a multiple of this."""

MIN_PADDED_VOCAB = 1024
"""Smaller vocabularies (characters) are not padded: the extra rows would be a large share of the work."""


class VocabLinear(nn.Linear):
    """``nn.Linear(in_features, V)`` onto a vocabulary: x (..., in_features) -> logits (..., V), the same function
    and the same parameters (``weight`` (V, in_features), ``bias`` (V,)), the same state dict.

    For V >= ``MIN_PADDED_VOCAB`` the product runs on weight and bias zero-padded to a multiple of ``align``
    rows, and the logits returned are the first V columns of its result (a view; a copy where a consumer needs
    one contiguous). With autograd the padding is made at each call (its gradient is the slice of the padded
    one); without, the padded copies are kept until the parameters change (tracked by their version counters,
    which every in-place update, optimiser steps and ``load_state_dict`` included, moves on; parameters made under
    ``torch.inference_mode`` have none, and are padded at each call). ``align = 1`` on an
    instance turns the padding off (``benchmarks/speed.py`` times both)."""

    align: int = VOCAB_ALIGN

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._padded: tuple | None = None

    @property
    def pad_rows(self) -> int:
        """Zero rows added to the product (0: not padded)."""
        v = self.out_features
        return 0 if v < MIN_PADDED_VOCAB or self.align <= 1 else -v % self.align

    def _pad(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        pad = self.pad_rows
        return F.pad(self.weight, (0, 0, 0, pad)), None if self.bias is None else F.pad(self.bias, (0, pad))

    def padded_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """weight (V + pad, in_features) and bias (V + pad,) or None, zero-padded."""
        params = tuple(self.parameters())
        if (torch.is_grad_enabled() and any(p.requires_grad for p in params)) or any(p.is_inference() for p in params):
            # autograd needs the padding in the graph; inference tensors have no version counter to key a copy on
            return self._pad()
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params) + (self.pad_rows,)
        if self._padded is None or self._padded[0] != key:
            with torch.no_grad():
                self._padded = (key, *self._pad())
        return self._padded[1], self._padded[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.pad_rows:
            return super().forward(x)
        w, b = self.padded_parameters()
        return F.linear(x, w, b)[..., : self.out_features]

    def __getstate__(self):  # copies and pickles do not carry the cached padded parameters
        state = super().__getstate__()
        return {**state, "_padded": None}
