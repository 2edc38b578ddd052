"""Semeniuta et al. 2017's hybrid decoder with a ByteNet-like top of masked causal convolutions (Figure 2c)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textvae.data.vocab import PAD
from textvae.models.decoders.deconv import DeconvStack, check_length
from textvae.models.interface import DecoderOutput
from textvae.models.vocab_linear import VocabLinear


class ByteNetDecoder(nn.Module):
    """The deconvolution stack's features d_t, concatenated with embed(x_{t-1}), are mapped to ``hidden_dim``
    (a 1x1 convolution), then ``layers`` masked causal convolutions of kernel 2 without dilation: each sees its
    position and the one before, so the output at t sees the inputs t - layers .. t, the previous layers + 1
    tokens (the receptive field the paper varies). Each layer is gated as a highway, h = g * tanh(a) + (1 - g) * h,
    as the authors' code does (the paper: "no dilation and no skip connections"). Auxiliary head ``deconv``.

    Step by step, the state keeps the last layers + 1 inputs: the output at the newest position depends on no
    other, so stepwise logits equal teacher forcing's."""

    aux_heads: tuple[str, ...] = ("deconv",)

    def __init__(self, vocab_size: int, *, z_dim: int, length: int = 64, channels: list[int] | None = None,
                 embed_dim: int = 64, hidden_dim: int = 256, layers: int = 2):
        super().__init__()
        self.z_dim, self.max_len, self.n_layers = z_dim, length, layers
        self.stack = DeconvStack(z_dim, length, list(channels or [256, 128, 200]))
        self.aux_out = VocabLinear(self.stack.out_dim, vocab_size)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.resize = nn.Linear(self.stack.out_dim + embed_dim, hidden_dim)
        self.convs = nn.ModuleList(nn.Conv1d(hidden_dim, 2 * hidden_dim, kernel_size=2) for _ in range(layers))
        self.out = VocabLinear(hidden_dim, vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.out.out_features

    @property
    def receptive_field(self) -> int:
        """Tokens the top sees before each position: layers + 1."""
        return self.n_layers + 1

    def _inputs(self, feats: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        return self.resize(torch.cat([feats, self.embed(inp)], dim=-1))

    def _top(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, H) -> (B, T, H): the masked convolutions, position t seeing t - layers .. t."""
        h = x.transpose(1, 2)
        for conv in self.convs:
            a, g = conv(F.pad(h, (1, 0))).chunk(2, dim=1)  # the pad keeps position t from seeing t + 1
            g = torch.sigmoid(g)
            h = g * torch.tanh(a) + (1 - g) * h
        return h.transpose(1, 2)

    def forward(self, inp: torch.Tensor, z: torch.Tensor, aux: bool = False) -> DecoderOutput:
        check_length(inp, self.max_len)
        feats = self.stack(z)[:, : inp.shape[1]]
        return DecoderOutput(self._top(self._inputs(feats, inp)), {"deconv": feats} if aux else {})

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        if head == "main":
            return self.out(h)
        if head == "deconv":
            return self.aux_out(h)
        raise KeyError(f"the bytenet decoder has no head {head!r}")

    def init_state(self, z: torch.Tensor, batch_size: int, device=None):
        """(features (B, length, D), next position, the last inputs (B, <= layers + 1, H))."""
        feats = self.stack(z)
        return feats, 0, feats.new_zeros(feats.shape[0], 0, self.resize.out_features)

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor):
        feats, t, window = state
        x = self._inputs(feats[:, min(t, self.max_len - 1)], tokens).unsqueeze(1)
        window = torch.cat([window, x], dim=1)[:, -self.receptive_field :]
        return self.out(self._top(window)[:, -1]), (feats, t + 1, window)

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        feats, t, window = state
        return feats.index_select(0, index), t, window.index_select(0, index)
