"""Semeniuta et al. 2017's deconvolutional decoder: z -> features at every position of a fixed-length sentence.

:class:`DeconvStack` is the part the three decoders share; :class:`DeconvDecoder` reads logits straight from it:
the fully feed-forward, historyless VAE of the paper's Figure 2(a).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textvae.models.interface import DecoderOutput
from textvae.models.vocab_linear import VocabLinear


class DeconvStack(nn.Module):
    """z (B, Z) -> features (B, length, channels[-1]): a linear map to a short, wide map (channels[0] features at
    length / 2^n positions, ReLU), then n = len(channels) - 1 transposed convolutions (kernel 3, stride 2,
    padding 1, output padding 1: each doubles the length; batch normalisation, ReLU) with channels[1:] features."""

    def __init__(self, z_dim: int, length: int, channels: list[int]):
        super().__init__()
        n = len(channels) - 1
        if z_dim < 1:
            raise ValueError("a deconvolution decoder needs a latent code (model.type vae or ae)")
        if length % 2**n:
            raise ValueError(f"length {length} is not a multiple of 2^{n}")
        self.length, self.start, self.first = length, length // 2**n, channels[0]
        self.fc = nn.Linear(z_dim, channels[0] * self.start)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels, channels[1:], strict=False):
            layers += [nn.ConvTranspose1d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                       nn.BatchNorm1d(c_out), nn.ReLU()]
        self.deconvs = nn.Sequential(*layers)
        self.out_dim = channels[-1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc(z)).view(z.shape[0], self.first, self.start)
        return self.deconvs(x).transpose(1, 2)


def check_length(inp: torch.Tensor, length: int) -> None:
    if inp.shape[1] > length:
        raise ValueError(f"a sentence of {inp.shape[1]} tokens is longer than the decoder's length {length}")


class DeconvDecoder(nn.Module):
    """Historyless decoding: p(x | z) = prod_t p(x_t | z), logits from the deconvolution features at each position
    (Figure 2a). The tokens it is fed are ignored, so decoding computes every position at once (``init_state``)."""

    aux_heads: tuple[str, ...] = ()

    def __init__(self, vocab_size: int, *, z_dim: int, length: int = 64, channels: list[int] | None = None):
        super().__init__()
        self.z_dim, self.max_len = z_dim, length
        self.stack = DeconvStack(z_dim, length, list(channels or [256, 128, 200]))
        self.out = VocabLinear(self.stack.out_dim, vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.out.out_features

    def forward(self, inp: torch.Tensor, z: torch.Tensor, aux: bool = False) -> DecoderOutput:
        """inp (B, L <= length) (only its length is used) -> features (B, L, channels[-1])."""
        check_length(inp, self.max_len)
        return DecoderOutput(self.stack(z)[:, : inp.shape[1]], {})

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        if head != "main":
            raise KeyError(f"the deconv decoder has no auxiliary head {head!r}")
        return self.out(h)

    def init_state(self, z: torch.Tensor, batch_size: int, device=None):
        """Every position's features at once, and the next position: ((B, length, H), 0)."""
        return self.stack(z), 0

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor):
        feats, t = state
        return self.out(feats[:, min(t, self.max_len - 1)]), (feats, t + 1)

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        feats, t = state
        return feats.index_select(0, index), t
