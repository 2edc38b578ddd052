"""A small causal Transformer decoder: p(x | z) word by word, z entering as a prefix position; without z, a
Transformer language model."""

from __future__ import annotations

import torch
from torch import nn

from textvae.data.vocab import PAD
from textvae.models.decoders.deconv import check_length
from textvae.models.interface import DecoderOutput
from textvae.models.vocab_linear import VocabLinear


class TransformerDecoder(nn.Module):
    """``layers`` pre-norm blocks of causal self-attention (``heads`` heads) and a GELU feed-forward layer of
    ``ff_dim`` over learned token and position embeddings of ``embed_dim``; a final LayerNorm and a linear output
    layer. z (``z_dim`` > 0) is projected to one extra position before ``<bos>``, which every word attends to
    (z as a prefix; Li et al. 2020's Optimus injects it as memory, a larger design). ``max_len``: positions it
    can score, ``</s>`` counted.

    Implements ``textvae.models.interface.Decoder``: no auxiliary heads. The decoding state is the token ids fed
    so far (B, t); each step runs the blocks over the whole prefix (no key/value cache: O(t^2) per sentence, which
    at the short lengths of sentence VAEs costs less than the bookkeeping a cache needs)."""

    aux_heads: tuple[str, ...] = ()

    def __init__(self, vocab_size: int, *, z_dim: int = 0, embed_dim: int = 256, layers: int = 2, heads: int = 4,
                 ff_dim: int = 1024, dropout: float = 0.1, max_len: int = 128):
        super().__init__()
        self.z_dim, self.max_len, self.embed_dim = z_dim, max_len, embed_dim
        self.prefix = nn.Linear(z_dim, embed_dim) if z_dim > 0 else None
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.pos = nn.Embedding(max_len + (1 if z_dim > 0 else 0), embed_dim)
        self.drop = nn.Dropout(dropout)
        block = nn.TransformerEncoderLayer(embed_dim, heads, ff_dim, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        self.out = VocabLinear(embed_dim, vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.out.out_features

    def _states(self, inp: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """inp (B, P) -> the last block's normalised states (B, P, E) at the token positions."""
        x = self.embed(inp)
        if self.prefix is not None:
            x = torch.cat([self.prefix(z.to(x.dtype)).unsqueeze(1), x], dim=1)
        n = x.shape[1]
        x = self.drop(x + self.pos(torch.arange(n, device=x.device)))
        causal = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)  # True: may not attend
        h = self.norm(self.blocks(x, mask=causal, is_causal=True))
        return h[:, n - inp.shape[1]:]

    def forward(self, inp: torch.Tensor, z: torch.Tensor | None, aux: bool = False) -> DecoderOutput:
        """Teacher forcing: inp (B, P <= max_len) token ids, z (B, Z) or None -> states (B, P, E). Causal:
        padding at the end of a row cannot change that row's earlier states."""
        check_length(inp, self.max_len)
        return DecoderOutput(self.drop(self._states(inp, z)), {})

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        """h (..., E) -> logits (..., V)."""
        if head != "main":
            raise KeyError(f"the transformer decoder has no auxiliary head {head!r}")
        return self.out(h)

    def init_state(self, z: torch.Tensor | None, batch_size: int, device=None) -> torch.Tensor:
        """No token fed yet: ids (B, 0)."""
        return torch.zeros(batch_size, 0, dtype=torch.long, device=device if z is None else z.device)

    def step(self, tokens: torch.Tensor, state: torch.Tensor, z: torch.Tensor | None):
        """tokens (B,) -> logits (B, V) of the next token, the ids fed so far (B, t + 1)."""
        ids = torch.cat([state, tokens.unsqueeze(1)], dim=1)[:, -self.max_len:]
        return self.logits(self._states(ids, z)[:, -1]), ids

    @staticmethod
    def reorder_state(state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return state.index_select(0, index)
