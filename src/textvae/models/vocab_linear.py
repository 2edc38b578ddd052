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

    ``in_align`` > 1 also runs the product on an inner dimension padded to a multiple of it (zero weight columns
    and zero input features): an odd inner size (191) makes the three vocabulary GEMMs of a training step up to
    1.7x slower on CPU (``benchmarks/speed.md``). Like the rows, the padding lives in the product only: the
    parameters, their initialisation, the optimiser state and the parameter count keep ``in_features``.

    For V >= ``MIN_PADDED_VOCAB`` the product runs on weight and bias zero-padded to a multiple of ``align``
    rows, and the logits returned are the first V columns of its result (a view; a copy where a consumer needs
    one contiguous). With autograd the padding is made at each call (its gradient is the slice of the padded
    one); without, the padded copies are kept until the parameters change: tracked by their version counters
    (which ``load_state_dict``, SGD and other in-place updates move on; parameters made under
    ``torch.inference_mode`` have none, and are padded at each call), and, since the fused Adam step moves no
    version counter, dropped by every pass with autograd and every ``train()``/``eval()`` switch: an
    evaluation after training steps never reads an old copy (it did before 2026-12-04: ``docs/results.md``).
    ``align = 1`` on an instance turns the padding off (``benchmarks/speed.py`` times both)."""

    align: int = VOCAB_ALIGN

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None,
                 in_align: int = 1):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.in_align = in_align
        self._padded: tuple | None = None

    @property
    def pad_cols(self) -> int:
        """Zero columns added to the product's inner dimension (0: not padded)."""
        return -self.in_features % self.in_align if self.in_align > 1 else 0

    @property
    def pad_rows(self) -> int:
        """Zero rows added to the product (0: not padded)."""
        v = self.out_features
        return 0 if v < MIN_PADDED_VOCAB or self.align <= 1 else -v % self.align

    def _pad(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        pad = self.pad_rows
        return (F.pad(self.weight, (0, self.pad_cols, 0, pad)),
                None if self.bias is None else F.pad(self.bias, (0, pad)))

    def padded_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """weight (V + pad_rows, in_features + pad_cols) and bias (V + pad_rows,) or None, zero-padded."""
        params = tuple(self.parameters())
        if (torch.is_grad_enabled() and any(p.requires_grad for p in params)) or any(p.is_inference() for p in params):
            # autograd needs the padding in the graph; inference tensors have no version counter to key a copy on.
            # A pass with autograd is a training step coming: the fused optimisers update parameters in place
            # without moving their version counters, so a kept copy would outlive the step (drop it)
            self._padded = None
            return self._pad()
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params) + (self.pad_rows, self.pad_cols)
        if self._padded is None or self._padded[0] != key:
            with torch.no_grad():
                self._padded = (key, *self._pad())
        return self._padded[1], self._padded[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.pad_rows and not self.pad_cols:
            return super().forward(x)
        w, b = self.padded_parameters()
        out = F.linear(F.pad(x, (0, self.pad_cols)) if self.pad_cols else x, w, b)
        return out[..., : self.out_features] if self.pad_rows else out

    def train(self, mode: bool = True) -> VocabLinear:
        """Switching between training and evaluation drops the kept copy (fused optimiser steps in between do not
        move the version counters it is keyed on)."""
        self._padded = None
        return super().train(mode)

    def __getstate__(self):  # copies and pickles do not carry the cached padded parameters
        state = super().__getstate__()
        return {**state, "_padded": None}
