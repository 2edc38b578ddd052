"""Semeniuta et al. 2017's hybrid decoder with an LSTM top (Figure 2b)."""

from __future__ import annotations

import torch
from torch import nn

from textvae.data.vocab import PAD
from textvae.models.decoders.deconv import DeconvStack, check_length
from textvae.models.interface import DecoderOutput
from textvae.models.vocab_linear import VocabLinear


class HybridDecoder(nn.Module):
    """The deconvolution stack gives features d_t (B, length, D) from z; an LSTM reads [d_t, embed(x_{t-1})]
    and its outputs (layer-normalised, ``layer_norm``) give the logits: p(x_t | x_<t, z). The auxiliary head
    ``deconv`` scores the stack's features alone, p(x_t | z) (the alpha J_aux term of eq. 3-4).

    Deviation, as for the LSTM decoder: the paper's LSTM normalises its gates inside the cell (LNLSTM); ``nn.LSTM``
    cannot, so the outputs are normalised."""

    aux_heads: tuple[str, ...] = ("deconv",)

    def __init__(self, vocab_size: int, *, z_dim: int, length: int = 64, channels: list[int] | None = None,
                 embed_dim: int = 64, hidden_dim: int = 500, layer_norm: bool = True):
        super().__init__()
        self.z_dim, self.max_len = z_dim, length
        self.stack = DeconvStack(z_dim, length, list(channels or [256, 128, 200]))
        self.aux_out = VocabLinear(self.stack.out_dim, vocab_size)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(self.stack.out_dim + embed_dim, hidden_dim, batch_first=True)
        self.norm = nn.LayerNorm(hidden_dim) if layer_norm else nn.Identity()
        self.out = VocabLinear(hidden_dim, vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.out.out_features

    def forward(self, inp: torch.Tensor, z: torch.Tensor, aux: bool = False) -> DecoderOutput:
        """inp (B, L <= length), z (B, Z) -> LSTM outputs (B, L, hidden); with ``aux`` the features (B, L, D)."""
        check_length(inp, self.max_len)
        feats = self.stack(z)[:, : inp.shape[1]]
        h, _ = self.lstm(torch.cat([feats, self.embed(inp)], dim=-1))
        return DecoderOutput(self.norm(h), {"deconv": feats} if aux else {})

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        if head == "main":
            return self.out(h)
        if head == "deconv":
            return self.aux_out(h)
        raise KeyError(f"the hybrid decoder has no head {head!r}")

    def init_state(self, z: torch.Tensor, batch_size: int, device=None):
        """(features (B, length, D), next position, LSTM state or None)."""
        return self.stack(z), 0, None

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor):
        feats, t, lstm_state = state
        x = torch.cat([feats[:, min(t, self.max_len - 1)], self.embed(tokens)], dim=-1).unsqueeze(1)
        out, lstm_state = self.lstm(x, lstm_state)
        return self.out(self.norm(out[:, 0])), (feats, t + 1, lstm_state)

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        feats, t, lstm_state = state
        if lstm_state is not None:
            lstm_state = tuple(s.index_select(1, index) for s in lstm_state)
        return feats.index_select(0, index), t, lstm_state
