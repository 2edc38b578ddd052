"""AUTR, the Attentive Unsupervised Text Writer (Shah and Barber): an LSTM writes a canvas of ``length`` word
slots through a modified softmax attention in T steps (Algorithm 1), then a Markov output model reads the words
off the final canvas (eq. 3-5)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from textvae.data.vocab import PAD
from textvae.models.decoders.deconv import check_length
from textvae.models.interface import DecoderOutput


@dataclass
class CanvasTrace:
    """The canvas after every step, ``canvases`` (T + 1, B, L, E) from C_0 = 0, and the cumulative attention of
    every slot after every step, ``attention`` (T + 1, B, L) from 0."""

    canvases: torch.Tensor
    attention: torch.Tensor


def modified_softmax(scores: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """Eq. 2: g_l = exp(a_l) s_l / sum_k exp(a_k) s_k * s_l, with s_l = ``free`` = 1 - the slot's cumulative
    attention so far. scores, free (B, L) -> g (B, L): every g_l <= s_l, so no slot is written more than once in
    total, and sum_l g_l <= max_l s_l <= 1. Slots all full (every s_l = 0) get g = 0."""
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values) * free
    return e / e.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(e.dtype).tiny) * free


class AUTRDecoder(nn.Module):
    """p(x | z) of AUTR. The canvas C (B, L, E), L = ``length`` slots of ``embed_dim``, starts at 0 with h_0 = 0;
    for t = 1..T (``steps``): h_t = LSTM([z, r_{t-1}], h_{t-1}) (``hidden_dim`` units), g_t = the modified softmax
    of W_g h_t (eq. 2), C_t = (1 - g_t) * C_{t-1} + g_t * (W_u h_t), where W_u h_t (E) is written to every slot in
    proportion to its gate. Then, for the word at slot l, the context x~_l = sum_{l' < l} softmax(W_l z)_{l'}
    e(x_{l'}) over the words before it (eq. 3-4; zero at the first) and p(x_l = a) = softmax_a(e(a) . (C_T[l] +
    W_x x~_l + W_z z)) (eq. 5): the output layer is the embedding matrix.

    How h_t sees the canvas (the paper: h_t = f(z, h_{t-1}, C_{t-1})) follows the authors' code: a read
    r_t = sum_l sigmoid(W_r [z, r_{t-1}, h_{t-1}])_l C_t[l], E numbers, rather than the whole L x E canvas (which
    would take 4 x 500 x 12,000 weights at L = 40, E = 300; the paper's 10.9M parameters fit the read).

    Slot l holds the l-th token of ``x_1 .. x_n </s>``, so a sentence has at most ``length`` - 1 words. The state
    for decoding holds the final canvas (computed once by ``init_state``), the next slot and the words so far;
    stepwise logits equal teacher forcing's."""

    aux_heads: tuple[str, ...] = ()

    def __init__(self, vocab_size: int, *, z_dim: int, length: int = 40, embed_dim: int = 300,
                 hidden_dim: int = 500, steps: int = 40):
        super().__init__()
        if z_dim < 1:
            raise ValueError("the AUTR decoder needs a latent code (model.type vae or ae)")
        self.z_dim, self.max_len, self.steps, self.embed_dim = z_dim, length, steps, embed_dim
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.cell = nn.LSTMCell(z_dim + embed_dim, hidden_dim)
        self.read = nn.Linear(z_dim + embed_dim + hidden_dim, length)  # W_r: which slots the next step reads
        self.gate = nn.Linear(hidden_dim, length)  # W_g
        self.write = nn.Linear(hidden_dim, embed_dim)  # W_u
        self.order = nn.Linear(z_dim, length)  # W_l: context weights over earlier slots
        self.from_context = nn.Linear(embed_dim, embed_dim, bias=False)  # W_x
        self.from_z = nn.Linear(z_dim, embed_dim)  # W_z

    @property
    def vocab_size(self) -> int:
        return self.embed.num_embeddings

    def canvas(self, z: torch.Tensor, trace: bool = False, steps: int | None = None
               ) -> tuple[torch.Tensor, CanvasTrace | None]:
        """z (B, Z) -> the final canvas C_T (B, L, E) (C_steps with ``steps``: the writing stopped early), and
        with ``trace`` every step's canvas and cumulative attention (for pictures; never during training)."""
        b, n, e = z.shape[0], self.max_len, self.embed_dim
        c = z.new_zeros(b, n, e)
        used = z.new_zeros(b, n)
        h = cell = z.new_zeros(b, self.cell.hidden_size)
        r = z.new_zeros(b, e)
        canvases, attention = ([c], [used]) if trace else (None, None)
        for _ in range(self.steps if steps is None else steps):
            x = torch.cat([z, r], dim=-1)
            reads = torch.sigmoid(self.read(torch.cat([x, h], dim=-1)))  # (B, L), from h_{t-1}
            h, cell = self.cell(x, (h, cell))
            g = modified_softmax(self.gate(h), 1 - used)
            used = used + g
            g = g.unsqueeze(-1)
            c = (1 - g) * c + g * self.write(h).unsqueeze(1)
            r = (reads.unsqueeze(-1) * c).sum(1)
            if trace:
                canvases.append(c)
                attention.append(used)
        return c, (CanvasTrace(torch.stack(canvases), torch.stack(attention)) if trace else None)

    def _context(self, words: torch.Tensor, z: torch.Tensor, upto: int) -> torch.Tensor:
        """words (B, P, E): embeddings of the words at slots 0..P-1 -> the contexts x~ (B, upto, E) of slots
        0..upto-1, slot l averaging words 0..l-1 with weights softmax(W_l z) restricted to them (0 at slot 0)."""
        n = words.shape[1]
        scores = self.order(z)[:, :n]  # (B, P)
        allowed = torch.ones(upto, n, dtype=torch.bool, device=z.device).tril(-1)  # slot l sees l' < l
        w = scores.unsqueeze(1).masked_fill(~allowed, float("-inf")).softmax(-1).nan_to_num(0.0)  # (B, upto, P)
        return w @ words

    def _outputs(self, canvas: torch.Tensor, context: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return canvas + self.from_context(context) + self.from_z(z).unsqueeze(1)

    def forward(self, inp: torch.Tensor, z: torch.Tensor, aux: bool = False) -> DecoderOutput:
        """inp (B, P <= length): <bos> x_1 .. x_{P-1} (padded); z (B, Z) -> b (B, P, E), eq. 5's vector of each
        slot (logits = b . e(v))."""
        check_length(inp, self.max_len)
        canvas, _ = self.canvas(z)
        p = inp.shape[1]
        words = self.embed(inp[:, 1:])  # x_1 .. x_{P-1}: the words of slots 0..P-2
        context = self._context(words, z, p) if p > 1 else canvas.new_zeros(z.shape[0], 1, self.embed_dim)
        return DecoderOutput(self._outputs(canvas[:, :p], context, z), {})

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        if head != "main":
            raise KeyError(f"the autr decoder has no auxiliary head {head!r}")
        return h @ self.embed.weight.t()

    def init_state(self, z: torch.Tensor, batch_size: int, device=None, steps: int | None = None):
        """(final canvas (B, L, E), next slot, embeddings of the words written so far (B, slot, E)); ``steps``:
        the canvas after that many writing steps (:meth:`after`)."""
        canvas, _ = self.canvas(z, steps=steps)
        return canvas, 0, canvas.new_zeros(z.shape[0], 0, self.embed_dim)

    def after(self, steps: int) -> CanvasAfter:
        """This decoder reading its canvas after ``steps`` of its T writing steps (the paper's Fig. 2): a Decoder
        for every decoding method."""
        return CanvasAfter(self, steps)

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor):
        """tokens (B,): <bos> at the first call, then the word just written (it joins the context)."""
        canvas, t, words = state
        if t > 0:
            words = torch.cat([words, self.embed(tokens).unsqueeze(1)], dim=1)
        slot = min(t, self.max_len - 1)
        if t > 0:
            w = self.order(z)[:, :t].softmax(-1).unsqueeze(1)  # (B, 1, t)
            context = (w @ words)[:, 0]
        else:
            context = canvas.new_zeros(z.shape[0], self.embed_dim)
        out = self._outputs(canvas[:, slot : slot + 1], context.unsqueeze(1), z)[:, 0]
        return self.logits(out), (canvas, t + 1, words)

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        canvas, t, words = state
        return canvas.index_select(0, index), t, words.index_select(0, index)


class CanvasAfter(nn.Module):
    """An AUTR decoder whose words are read off the canvas after ``steps`` writing steps (not the final canvas):
    the Decoder interface, delegating to the decoder (its parameters, its mode)."""

    aux_heads: tuple[str, ...] = ()

    def __init__(self, decoder: AUTRDecoder, steps: int) -> None:
        super().__init__()
        self.decoder, self.steps = decoder, steps
        self.vocab_size, self.z_dim, self.max_len = decoder.vocab_size, decoder.z_dim, decoder.max_len
        self.train(decoder.training)

    def forward(self, inp: torch.Tensor, z: torch.Tensor, aux: bool = False) -> DecoderOutput:
        raise NotImplementedError("CanvasAfter decodes step by step only")

    def logits(self, h: torch.Tensor, head: str = "main") -> torch.Tensor:
        return self.decoder.logits(h, head)

    def init_state(self, z: torch.Tensor, batch_size: int, device=None):
        return self.decoder.init_state(z, batch_size, device, steps=self.steps)

    def step(self, tokens: torch.Tensor, state, z: torch.Tensor):
        return self.decoder.step(tokens, state, z)

    def reorder_state(self, state, index: torch.Tensor):
        return self.decoder.reorder_state(state, index)
