"""Parameter initialisation schemes a recipe can ask for (``model.init_range``); by default every layer keeps
PyTorch's own."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def uniform_init(model: nn.Module, scale: float, embed_scale: float) -> None:
    """The protocol papers' initialisation (He et al. 2019's and Li et al. 2019's code): every parameter from
    U(-scale, scale), then every ``nn.Embedding`` matrix from U(-embed_scale, embed_scale). An embedding's
    ``padding_idx`` row stays zero. An output layer whose product is padded (``VocabLinear.pad_cols``) is drawn at
    its padded width and cut, as when the padding was in the parameter: a seed gives the same model as then."""
    wide = {id(m.weight): m.pad_cols for m in model.modules() if getattr(m, "pad_cols", 0)}
    for p in model.parameters():
        if id(p) in wide:
            p.copy_(torch.empty(p.shape[0], p.shape[1] + wide[id(p)]).uniform_(-scale, scale)[:, : p.shape[1]])
        else:
            p.uniform_(-scale, scale)
    for m in model.modules():
        if isinstance(m, nn.Embedding):
            m.weight.uniform_(-embed_scale, embed_scale)
            if m.padding_idx is not None:
                m.weight[m.padding_idx].zero_()
