"""TextVAE: encoder + latent + decoder. With no encoder/latent it is the RNNLM; with a deterministic latent,
the sequence autoencoder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textvae.data.batching import Batch


@dataclass
class Output:
    """One forward pass. rec (B,) = -log p(x|z) in nats per sentence; kl (B, Z) per dimension (zeros for the
    AE and the RNNLM); mu, logvar (B, Z) or None; z (B, Z) or None."""

    rec: torch.Tensor
    kl: torch.Tensor
    mu: torch.Tensor | None
    logvar: torch.Tensor | None
    z: torch.Tensor | None


class TextVAE(nn.Module):
    def __init__(self, encoder: nn.Module | None, latent: nn.Module | None, decoder: nn.Module):
        super().__init__()
        self.encoder, self.latent, self.decoder = encoder, latent, decoder

    @property
    def n_params(self) -> int:
        """Number of model parameters (the decoder's zero padding columns not counted)."""
        return sum(p.numel() for p in self.parameters()) - getattr(self.decoder, "padding_params", 0)

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

    def posterior(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """q(z|x): mu (B, Z) and logvar (B, Z) (None for the autoencoder)."""
        return self.latent(self.encoder(batch.tgt, batch.lengths))

    def rec(self, batch: Batch, z: torch.Tensor | None, inp: torch.Tensor | None = None) -> torch.Tensor:
        """-log p(x | z) per sentence, (B,) nats, counting </s>. Logits are computed only at real tokens,
        so padding costs nothing in the softmax. ``inp`` overrides the decoder input (word dropout)."""
        h = self.decoder.hidden(batch.inp if inp is None else inp, z)
        mask = batch.mask
        logits = self.decoder.logits(h[mask])
        tok = F.cross_entropy(logits.float(), batch.tgt[mask], reduction="none")
        rows = torch.arange(batch.size, device=tok.device).unsqueeze(1).expand_as(mask)[mask]
        return torch.zeros(batch.size, device=tok.device).index_add_(0, rows, tok)

    def forward(self, batch: Batch, inp: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> Output:
        """One-sample reconstruction and analytic KL."""
        if not self.has_latent:
            rec = self.rec(batch, None, inp)
            return Output(rec, rec.new_zeros(batch.size, 0), None, None, None)
        mu, logvar = self.posterior(batch)
        z = self.latent.sample(mu, logvar, generator=generator)
        return Output(self.rec(batch, z, inp), self.latent.kl(mu, logvar), mu, logvar, z)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode with autograd off inside; its previous mode restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
