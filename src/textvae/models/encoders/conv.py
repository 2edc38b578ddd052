"""The convolutional encoder of Semeniuta et al. 2017: a fixed-length sentence -> a summary vector."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textvae.data.vocab import PAD


class ConvEncoder(nn.Module):
    """Embeddings of a sentence padded to ``length`` tokens, then one 1-D convolution per entry of ``channels``
    (kernel 3, stride 2, padding 1, batch normalisation, ReLU), flattened: out_dim = channels[-1] x length /
    2^len(channels). The authors feed one-hot characters to the first convolution; an embedding is the same linear
    map with fewer parameters. A sentence longer than ``length`` (</s> included) is a ValueError: the data layer
    refuses or cuts such sentences before (``data.cut``)."""

    def __init__(self, vocab_size: int, *, length: int = 64, embed_dim: int = 64, channels: list[int] | None = None):
        super().__init__()
        channels = list(channels or [128, 256])
        if length % 2 ** len(channels):
            raise ValueError(f"length {length} is not a multiple of 2^{len(channels)}")
        self.length = length
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        layers: list[nn.Module] = []
        for c_in, c_out in zip([embed_dim, *channels], channels, strict=False):
            layers += [nn.Conv1d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm1d(c_out), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.out_dim = channels[-1] * (length // 2 ** len(channels))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, L <= length) long, x_1..x_n </s> padded; lengths (B,) -> (B, out_dim). Every sentence is
        padded to ``length``, so its summary does not depend on the batch."""
        if tokens.shape[1] > self.length:
            raise ValueError(f"a sentence of {tokens.shape[1]} tokens is longer than the encoder's length "
                             f"{self.length}")
        tokens = F.pad(tokens, (0, self.length - tokens.shape[1]), value=PAD)
        return self.convs(self.embed(tokens).transpose(1, 2)).flatten(1)
