"""Encoders: a sentence (B, L) -> a summary vector (B, out_dim) that a latent maps to q(z|x)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from textvae.data.vocab import PAD


class LSTMEncoder(nn.Module):
    """Single-layer LSTM over x_1..x_n </s>; returns the last hidden state at each sentence's true length."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.out_dim = hidden_dim

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, L) long, lengths (B,) -> (B, hidden_dim)."""
        packed = pack_padded_sequence(self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return h[-1]
