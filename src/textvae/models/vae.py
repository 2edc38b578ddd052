"""TextVAE: encoder + latent + decoder. With no encoder/latent it is the RNNLM; with a deterministic latent,
the sequence autoencoder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from textvae.data.batching import Batch

SCORE_BYTES = 10 << 20
"""Bytes of fp32 logits that :meth:`TextVAE.score` computes at once without autograd on a CPU: about 260 tokens of
a 10k-word vocabulary, whose logits stay in a 32 MiB L3 cache between the matrix product and the softmax. On a
2-core AVX2 EPYC (``benchmarks/speed_avx2``, K = 500, the same samples) nll_iw ran 1.08x faster in these blocks
than in blocks of 1,024 tokens, and 1.32x with the output layer's padded product (``VocabLinear``) as well; blocks
of 1,024 had been 1.2x faster than one block of 2,700 on an AVX-512 machine (``docs/metrics.md``)."""


def score_rows(vocab_size: int) -> int:
    """Tokens per block of :meth:`TextVAE.score` without autograd: ``SCORE_BYTES`` of fp32 logits, at least 1."""
    return max(1, SCORE_BYTES // (4 * vocab_size))


@dataclass
class Output:
    """One forward pass. rec (B,) = -log p(x|z) in nats per sentence; kl (B, Z) per dimension (zeros for the
    AE, (B, 0) for the RNNLM); mu, logvar (B, Z) or None; z (B, Z) or None; aux: the decoder's auxiliary heads
    by name, each (B,) nats per sentence scored like rec (empty unless asked for)."""

    rec: torch.Tensor
    kl: torch.Tensor
    mu: torch.Tensor | None
    logvar: torch.Tensor | None
    z: torch.Tensor | None
    aux: dict[str, torch.Tensor] = field(default_factory=dict)


class TextVAE(nn.Module):
    """encoder -> latent -> decoder (``textvae.models.interface``); no encoder and latent: the language model.

    ``posterior(batch)`` gives q(z|x); ``rec(batch, z)`` scores sentences under p(x|z); ``forward(batch)`` draws
    one z per sentence and returns an :class:`Output`."""

    def __init__(self, encoder: nn.Module | None, latent: nn.Module | None, decoder: nn.Module):
        super().__init__()
        self.encoder, self.latent, self.decoder = encoder, latent, decoder

    @property
    def n_params(self) -> int:
        """Number of model parameters."""
        return sum(p.numel() for p in self.parameters())

    @property
    def has_latent(self) -> bool:
        return self.latent is not None

    @property
    def is_stochastic(self) -> bool:
        """True for the VAE: q(z|x) is a distribution, so nll_iw, mi and the KL are defined."""
        return self.latent is not None and not self.latent.deterministic

    @property
    def z_dim(self) -> int:
        return self.latent.z_dim if self.latent is not None else 0

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def posterior(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """q(z|x): mu (B, Z) and logvar (B, Z) (None for the autoencoder)."""
        return self.latent(self.encoder(batch.tgt, batch.lengths))

    def score(self, h: torch.Tensor, batch: Batch, head: str = "main") -> torch.Tensor:
        """-log p(x) per sentence (B,) nats, </s> counted, from decoder states h (B, L, H) aligned with the batch,
        through the decoder's output layer ``head``. Logits are computed only at real tokens, so padding costs
        nothing in the softmax. Without autograd on a CPU (evaluation) they are computed ``score_rows(V)`` tokens at a
        time."""
        mask = batch.mask
        states, targets = h[mask], batch.tgt[mask]
        n, rows = states.shape[0], score_rows(self.decoder.vocab_size)
        if torch.is_grad_enabled() or n <= rows or states.device.type != "cpu":
            tok = F.cross_entropy(self.decoder.logits(states, head).float(), targets, reduction="none")
        else:
            tok = torch.cat([F.cross_entropy(self.decoder.logits(states[i : i + rows], head).float(),
                                             targets[i : i + rows], reduction="none")
                             for i in range(0, n, rows)])
        rows = torch.arange(batch.size, device=tok.device).unsqueeze(1).expand_as(mask)[mask]
        return torch.zeros(batch.size, device=tok.device).index_add_(0, rows, tok)

    def rec(self, batch: Batch, z: torch.Tensor | None, inp: torch.Tensor | None = None) -> torch.Tensor:
        """-log p(x | z) per sentence, (B,) nats, counting </s>. ``inp`` overrides the decoder input (word
        dropout)."""
        return self.score(self.decoder(batch.inp if inp is None else inp, z).h, batch)

    def forward(self, batch: Batch, inp: torch.Tensor | None = None, generator: torch.Generator | None = None,
                aux: bool = False) -> Output:
        """One-sample reconstruction and analytic KL; with ``aux``, the decoder's auxiliary heads scored too."""
        z = mu = logvar = None
        if self.has_latent:
            mu, logvar = self.posterior(batch)
            z = self.latent.sample(mu, logvar, generator=generator)
        out = self.decoder(batch.inp if inp is None else inp, z, aux=aux)
        rec = self.score(out.h, batch)
        heads = {name: self.score(h, batch, name) for name, h in out.aux.items()}
        kl = self.latent.kl(mu, logvar) if self.has_latent else rec.new_zeros(batch.size, 0)
        return Output(rec, kl, mu, logvar, z, heads)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode with autograd off inside. A model in training mode is switched and switched back
    after; a model already in eval mode is left alone, so threads that share a loaded model (``load_run`` gives
    it in eval mode) never race on its mode."""
    with torch.no_grad():
        if not model.training:
            yield model
            return
        model.eval()
        try:
            yield model
        finally:
            model.train()
