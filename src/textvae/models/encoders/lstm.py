"""The LSTM encoder: a sentence (B, L) -> a summary vector (B, out_dim) that a latent maps to q(z|x)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from textvae.data.vocab import PAD


class LSTMEncoder(nn.Module):
    """Single-layer LSTM over x_1..x_n </s>; the summary is the hidden state at each sentence's last position.

    Unidirectional: the LSTM runs over the padded batch (causal, so padding after a sentence cannot reach its
    last real state) and the state is gathered at length - 1; with length-bucketed batches this is 1.6x faster
    on CPU than a packed sequence, with the same result. ``bidirectional`` (mu-Forcing's encoder): a packed
    sequence, so the backward direction starts at each sentence's own last word; the summary is the forward
    state after the last word and the backward state after the first, concatenated (2 x hidden_dim).
    ``layer_norm``: LayerNorm (Ba et al. 2016) on the summary."""

    def __init__(self, vocab_size: int, *, embed_dim: int = 353, hidden_dim: int = 191, bidirectional: bool = False,
                 layer_norm: bool = False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=bidirectional)
        self.out_dim = hidden_dim * (2 if bidirectional else 1)
        self.norm = nn.LayerNorm(self.out_dim) if layer_norm else nn.Identity()

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, L) long, lengths (B,) -> (B, out_dim)."""
        x = self.embed(tokens)
        if self.lstm.bidirectional:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)  # h (2, B, H), rows in input order
            return self.norm(torch.cat([h[0], h[1]], dim=-1))
        out, _ = self.lstm(x)
        return self.norm(out[torch.arange(out.shape[0], device=out.device), lengths - 1])
