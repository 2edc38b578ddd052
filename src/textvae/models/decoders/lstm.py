"""The LSTM decoder (Bowman et al. 2016): p(x | z) word by word; without z it is the RNNLM."""

from __future__ import annotations

import torch
from torch import nn

from textvae.data.vocab import BOS, PAD, UNK
from textvae.models.interface import DecoderOutput
from textvae.models.vocab_linear import VocabLinear

ALIGN = 32


def aligned(n: int, multiple: int = ALIGN) -> int:
    """``n`` rounded up to a multiple of ``multiple``."""
    return -(-n // multiple) * multiple


class LSTMDecoder(nn.Module):
    """LSTM language model conditioned on z, ``layers`` deep (Bowman et al.: one).

    z (if ``z_dim`` > 0) sets the initial state of every layer (``z_to_init``) and/or is concatenated to every
    input (``z_concat``). ``dropout`` applies to the embeddings, between layers and to the LSTM outputs.
    ``tie_embeddings``: the output layer's weight is the embedding matrix (embed_dim == hidden_dim).
    ``inputless``: every conditioned-on word is replaced by <unk> (word keep rate 0), at training and test time
    alike. ``layer_norm``: LayerNorm (Ba et al. 2016) on the LSTM outputs, before the
    output layer (mu-Forcing's set-up; ``docs/design.md`` says why not inside the cell). Implements
    ``textvae.models.interface.Decoder``: no auxiliary heads, no length limit; the state is the LSTM's (h, c),
    each (layers, B, H).

    The output layer's product runs on H padded to a multiple of 32 (191 -> 192; ``VocabLinear``'s
    ``in_align``): an odd inner dimension makes the three 10k-word GEMMs of a training step up to 1.7x slower on
    CPU (``benchmarks/speed.md``); not with tied embeddings. The padding is in the product only: the parameters
    are (V, H), and weights and optimiser states saved by textvae versions that kept a padded (V, 192) weight
    load with its zero columns dropped.
    """

    aux_heads: tuple[str, ...] = ()
    max_len: int | None = None

    def __init__(self, vocab_size: int, *, z_dim: int = 0, embed_dim: int = 353, hidden_dim: int = 191,
                 layers: int = 1, tie_embeddings: bool = False, z_to_init: bool = True, z_concat: bool = False,
                 inputless: bool = False, dropout: float = 0.0, layer_norm: bool = False):
        super().__init__()
        if tie_embeddings and embed_dim != hidden_dim:
            raise ValueError(f"tie_embeddings needs embed_dim == hidden_dim, got {embed_dim} and {hidden_dim}")
        self.z_dim, self.hidden_dim, self.layers = z_dim, hidden_dim, layers
        self.z_to_init = z_to_init and z_dim > 0
        self.z_concat = z_concat and z_dim > 0
        self.inputless = inputless
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed_dim + (z_dim if self.z_concat else 0), hidden_dim, num_layers=layers,
                            batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.init = nn.Linear(z_dim, 2 * layers * hidden_dim) if self.z_to_init else None
        self.norm = nn.LayerNorm(hidden_dim) if layer_norm else nn.Identity()
        # built and drawn at the aligned width, then cut to H: the random stream is consumed as when the padding
        # was in the parameter, so a seed gives the same model as it did then
        width = hidden_dim if tie_embeddings else aligned(hidden_dim)
        self.out = VocabLinear(width, vocab_size, in_align=1 if tie_embeddings else ALIGN)
        bound = hidden_dim ** -0.5  # nn.Linear(hidden_dim, V)'s own initialisation
        with torch.no_grad():
            self.out.weight = nn.Parameter(self.out.weight.uniform_(-bound, bound)[:, :hidden_dim].clone())
            self.out.bias.uniform_(-bound, bound)
        self.out.in_features = hidden_dim
        if tie_embeddings:  # one matrix, at the output layer's scale (N(0, 1) embeddings would give huge logits)
            self.embed.weight = self.out.weight
        self.register_load_state_dict_pre_hook(self._unpad_out_weight)

    @property
    def vocab_size(self) -> int:
        return self.out.out_features

    def _unpad_out_weight(self, module, state_dict, prefix, *args) -> None:
        """Weights of the versions that kept the output layer padded, (V, aligned H): the zero columns dropped."""
        w = state_dict.get(prefix + "out.weight")
        if w is not None and w.shape[-1] > self.hidden_dim == self.out.in_features:
            state_dict[prefix + "out.weight"] = w[:, : self.hidden_dim]

    def _inputs(self, inp: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if self.inputless:
            inp = torch.where((inp == BOS) | (inp == PAD), inp, torch.full_like(inp, UNK))
        x = self.drop(self.embed(inp))
        if self.z_concat:
            x = torch.cat([x, z.to(x.dtype).unsqueeze(1).expand(-1, inp.shape[1], -1)], dim=-1)
        return x

    def init_state(self, z: torch.Tensor | None, batch_size: int, device=None):
        """Initial (h, c), each (layers, B, H); zeros without z."""
        if self.init is None:
            zeros = torch.zeros(self.layers, batch_size, self.hidden_dim, device=device if z is None else z.device)
            return zeros, zeros.clone()
        h, c = self.init(z).view(-1, 2, self.layers, self.hidden_dim).permute(1, 2, 0, 3)  # each (layers, B, H)
        return torch.tanh(h).contiguous(), c.contiguous()

    def forward(self, inp: torch.Tensor, z: torch.Tensor | None, aux: bool = False) -> DecoderOutput:
        """Teacher forcing: inp (B, L) token ids, z (B, Z) or None -> LSTM outputs (B, L, H), no auxiliary heads.
        Causal: padding at the end of a row cannot change that row's earlier outputs."""
        state = self.init_state(z, inp.shape[0], inp.device)
        out, _ = self.lstm(self._inputs(inp, z), tuple(s.to(self.embed.weight.dtype) for s in state))
        return DecoderOutput(self.drop(self.norm(out)), {})

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        """h (..., H) -> logits (..., V)."""
        if head != "main":
            raise KeyError(f"the LSTM decoder has no auxiliary head {head!r}")
        return self.out(h)

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor | None):
        """One decoding step: tokens (B,) -> logits (B, V), new state."""
        out, state = self.lstm(self._inputs(tokens.unsqueeze(1), z), state)
        return self.logits(self.norm(out[:, 0])), state

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        """The decoding state of rows ``index`` (B',) (beam search keeps, drops and copies hypotheses)."""
        return tuple(s.index_select(1, index) for s in state)
