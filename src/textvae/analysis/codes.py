"""Codes z: posterior means of sentences, prior samples, lines between codes and attribute offsets."""

from __future__ import annotations

import torch

from textvae.data.batching import bucket_order, iterate_batches
from textvae.errors import BadValue, TextVAEError
from textvae.models.vae import TextVAE, eval_mode
from textvae.progress import task


def posterior_codes(model: TextVAE, seqs: list[list[int]], batch_size: int = 128,
                    device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor | None]:
    """q(z|x) of each sentence (token ids, no specials), in input order: mu (N, Z) and logvar (N, Z) (None for
    the autoencoder), on the CPU. Batched by length, so padding costs nothing."""
    if not model.has_latent:
        raise TextVAEError("this model has no latent code (an RNNLM)")
    mu = torch.empty(len(seqs), model.z_dim)
    logvar = torch.empty(len(seqs), model.z_dim) if model.is_stochastic else None
    with eval_mode(model), task("encode", len(seqs)) as progress:
        for _, batch in iterate_batches(seqs, bucket_order([len(s) for s in seqs], batch_size, shuffle=False)):
            m, lv = model.posterior(batch.to(device))
            mu[batch.index] = m.float().cpu()
            if logvar is not None:
                logvar[batch.index] = lv.float().cpu()
            progress.advance(batch.size)
    return mu, logvar


def stretch_matrix(z_dim: int, c: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """I + A with A's entries uniform in [-c, c]: Bowman et al.'s random linear map for samples from
    lower-probability regions (6.1, c = 0.1). The identity keeps it near volume-preserving, as the paper
    describes; A alone would shrink most directions for small c."""
    a = (torch.rand(z_dim, z_dim, generator=generator) * 2 - 1) * c
    return torch.eye(z_dim) + a


def prior_codes(n: int, z_dim: int, generator: torch.Generator | None = None, stretch: float = 0.0) -> torch.Tensor:
    """n codes z ~ N(0, I), (n, Z); with ``stretch`` = c > 0, mapped through :func:`stretch_matrix`."""
    z = torch.randn(n, z_dim, generator=generator)
    return z @ stretch_matrix(z_dim, stretch, generator).T if stretch > 0 else z


def homotopy(z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` codes on the line from z1 to z2 (Z,), endpoints included: z(t) = z1 (1 - t) + z2 t,
    (steps, Z) (Bowman et al. 6.3)."""
    if steps < 2:
        raise BadValue("steps", f"a homotopy needs at least 2, got {steps}")
    t = torch.linspace(0, 1, steps, dtype=z1.dtype, device=z1.device).unsqueeze(1)
    return z1 * (1 - t) + z2 * t


def analogy(z_a: torch.Tensor, z_p: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """z_b = z_a + z_q - z_p: a is to b as p is to q."""
    return z_a + z_q - z_p


def attribute_vector(z_from: torch.Tensor, z_to: torch.Tensor) -> torch.Tensor:
    """mean(z_to) - mean(z_from) over two labelled sets of codes (N1, Z), (N2, Z) -> (Z,) (mu-Forcing 5.6)."""
    return z_to.mean(0) - z_from.mean(0)
