"""Parameter initialisation schemes a recipe can ask for (``model.init_range``); by default every layer keeps
PyTorch's own."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def uniform_init(model: nn.Module, scale: float, embed_scale: float) -> None:
    """The protocol papers' initialisation (He et al. 2019's and Li et al. 2019's code): every parameter from
    U(-scale, scale), then every ``nn.Embedding`` matrix from U(-embed_scale, embed_scale). Structural zeros stay
    zero: an embedding's ``padding_idx`` row, and whatever a module re-zeroes in its ``zero_padding()`` (the LSTM
    decoder's zero-padded output-layer columns)."""
    for p in model.parameters():
        p.uniform_(-scale, scale)
    for m in model.modules():
        if isinstance(m, nn.Embedding):
            m.weight.uniform_(-embed_scale, embed_scale)
            if m.padding_idx is not None:
                m.weight[m.padding_idx].zero_()
    for m in model.modules():
        if hasattr(m, "zero_padding"):
            m.zero_padding()
