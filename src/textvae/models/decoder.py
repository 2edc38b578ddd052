"""Decoders: p(x | z) autoregressively. The LSTM decoder also serves as the RNNLM (no z)."""

from __future__ import annotations

import torch
from torch import nn

from textvae.data.vocab import BOS, PAD, UNK


class LSTMDecoder(nn.Module):
    """Single-layer LSTM language model conditioned on z.

    z (if ``z_dim`` > 0) sets the initial state (``z_to_init``) and/or is concatenated to every input
    (``z_concat``). ``inputless``: every conditioned-on word is replaced by <unk> (word keep rate 0), at
    training and test time alike. Interface used by the model and by decoding:
    ``hidden(inp, z) -> (B, L, H)``, ``logits(h) -> (..., V)``, ``init_state(z, B)``, ``step(tok, state, z)``.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, z_dim: int = 0, z_to_init: bool = True,
                 z_concat: bool = False, inputless: bool = False, dropout: float = 0.0):
        super().__init__()
        self.z_dim, self.hidden_dim = z_dim, hidden_dim
        self.z_to_init = z_to_init and z_dim > 0
        self.z_concat = z_concat and z_dim > 0
        self.inputless = inputless
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed_dim + (z_dim if self.z_concat else 0), hidden_dim, batch_first=True)
        self.init = nn.Linear(z_dim, 2 * hidden_dim) if self.z_to_init else None
        self.out = nn.Linear(hidden_dim, vocab_size)

    def _inputs(self, inp: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if self.inputless:
            inp = torch.where((inp == BOS) | (inp == PAD), inp, torch.full_like(inp, UNK))
        x = self.drop(self.embed(inp))
        if self.z_concat:
            x = torch.cat([x, z.to(x.dtype).unsqueeze(1).expand(-1, inp.shape[1], -1)], dim=-1)
        return x

    def init_state(self, z: torch.Tensor | None, batch_size: int, device=None):
        """Initial (h, c), each (1, B, H); zeros without z."""
        if self.init is None:
            zeros = torch.zeros(1, batch_size, self.hidden_dim, device=device if z is None else z.device)
            return zeros, zeros.clone()
        h, c = self.init(z).chunk(2, dim=-1)
        return torch.tanh(h).unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()

    def hidden(self, inp: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """inp (B, L) token ids, z (B, Z) or None -> LSTM outputs (B, L, H). Causal: padding at the end of a
        row cannot change that row's earlier outputs."""
        state = self.init_state(z, inp.shape[0], inp.device)
        out, _ = self.lstm(self._inputs(inp, z), tuple(s.to(self.embed.weight.dtype) for s in state))
        return self.drop(out)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(h)

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor | None):
        """One decoding step: tokens (B,) -> logits (B, V), new state."""
        out, state = self.lstm(self._inputs(tokens.unsqueeze(1), z), state)
        return self.out(out[:, 0]), state
