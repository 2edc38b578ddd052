"""The component contracts: what an encoder, a latent and a decoder must provide to be composed into a
``TextVAE`` and to work with every objective, estimator, decoding method and analysis of the library.

Shapes: B sentences, L positions (``<bos>`` x_1..x_n, padded), V vocabulary, H hidden units, Z latent units.
Token ids follow ``textvae.data.vocab``: 0 ``<pad>``, 1 ``<unk>``, 2 ``<bos>``, 3 ``</s>``. Scores are nats.

Every implementation passes the contract tests in ``tests/test_contracts.py`` (it joins their table of
registered components): for a decoder, stepwise decoding equals teacher forcing, padding changes no per-sentence
figure, ``reorder_state`` equals decoding the rows separately, and an exhaustive beam search equals brute force.

A worked example: a decoder that ignores its inputs and predicts every token from z alone (a "bag of words"
decoder; a complete, working implementation, shorter than the LSTM one)::

    class BagDecoder(nn.Module):
        aux_heads = ()
        max_len = None

        def __init__(self, vocab_size: int, z_dim: int, hidden_dim: int = 64):
            super().__init__()
            self.z_dim, self.hidden_dim = z_dim, hidden_dim
            self.proj = nn.Linear(z_dim, hidden_dim)
            self.out = nn.Linear(hidden_dim, vocab_size)

        @property
        def vocab_size(self) -> int:
            return self.out.out_features

        def forward(self, inp, z, aux=False):                # teacher forcing: (B, L) -> (B, L, H)
            h = torch.tanh(self.proj(z)).unsqueeze(1).expand(-1, inp.shape[1], -1)
            return DecoderOutput(h, {})

        def logits(self, h, head="main"):                    # (..., H) -> (..., V)
            return self.out(h)

        def init_state(self, z, batch_size, device=None):    # whatever step needs; here the code itself
            return torch.tanh(self.proj(z))

        def step(self, tokens, state, z):                    # (B,) previous tokens -> (B, V) logits, new state
            return self.out(state), state

        def reorder_state(self, state, index):               # rows ``index`` of the state (beam search)
            return state.index_select(0, index)

Register it with a config dataclass (``textvae.config.model``) and one ``Kind`` line in
``textvae.config.DECODER_KINDS`` naming both and declaring what it can do, and every recipe, command and test can
use it.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch


class DecoderOutput(NamedTuple):
    """A decoder's teacher-forced pass: ``h`` (B, L, H) the hidden states that ``logits(h)`` maps to the next
    token's scores at each input position; ``aux`` named auxiliary hidden states (B, L, H_name) that
    ``logits(h, name)`` scores the same way (e.g. Semeniuta et al.'s ``"deconv"`` head), empty unless asked for."""

    h: torch.Tensor
    aux: dict[str, torch.Tensor]


@runtime_checkable
class Encoder(Protocol):
    """Reads sentences into summary vectors that a :class:`Latent` maps to q(z|x).

    ``out_dim``: the summary's size. ``forward(tokens (B, L) long, lengths (B,) long) -> (B, out_dim)``: tokens are
    x_1..x_n ``</s>`` padded with ``<pad>``, lengths = n + 1; a row's summary must not depend on its padding."""

    out_dim: int

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Latent(Protocol):
    """The code z: q(z|x) from an encoder summary, samples of it, and its KL to the prior.

    ``forward(h (B, in_dim)) -> (mu (B, Z), logvar (B, Z) or None)`` (None: a deterministic code);
    ``sample(mu, logvar, n=0, generator=None)``: (B, Z), or (B, n, Z) for n > 0;
    ``kl(mu, logvar) -> (B, Z)`` per dimension, nats (zeros for a deterministic code).
    ``deterministic``: True when q(z|x) is a point (no nll_iw, mi or KL are defined)."""

    z_dim: int
    deterministic: bool

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def sample(self, mu: torch.Tensor, logvar: torch.Tensor | None, n: int = 0,
               generator: torch.Generator | None = None) -> torch.Tensor: ...

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor | None) -> torch.Tensor: ...


@runtime_checkable
class Decoder(Protocol):
    """p(x | z) = prod_t p(x_t | x_<t, z), autoregressive in its interface (a decoder that ignores history just
    does not look at the tokens it is fed).

    Declared: ``vocab_size`` V; ``z_dim`` (0: unconditional, the language model; z is then None); ``max_len``,
    the most positions it can score (None: unbounded), counting ``</s>``; ``aux_heads``, the names of its
    auxiliary heads.

    Teacher forcing: ``forward(inp (B, L), z (B, Z) or None, aux=False) -> DecoderOutput`` with ``h`` (B, L, H)
    aligned with ``inp`` (position t predicts the token after ``inp[:, t]``) and, with ``aux``, the auxiliary
    heads' states. A row's states at its real positions must not depend on padding after them.
    ``logits(h (..., H), head="main") -> (..., V)``.

    Step by step (decoding): ``init_state(z, batch_size, device)`` -> state; ``step(tokens (B,), state, z) ->
    (logits (B, V), state)`` gives the distribution of the next token after ``tokens`` (first call: ``<bos>``);
    ``reorder_state(state, index (B',)) -> state`` keeps, drops and copies rows (beam search). The state is
    the decoder's own business; only these three calls touch it. Stepwise logits equal teacher forcing's."""

    vocab_size: int
    z_dim: int
    max_len: int | None
    aux_heads: tuple[str, ...]

    def forward(self, inp: torch.Tensor, z: torch.Tensor | None, aux: bool = False) -> DecoderOutput: ...

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor: ...

    def init_state(self, z: torch.Tensor | None, batch_size: int, device: Any = None) -> Any: ...

    def step(self, tokens: torch.Tensor, state: Any, z: torch.Tensor | None) -> tuple[torch.Tensor, Any]: ...

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any: ...
