"""Latents: map an encoder summary to q(z|x), sample it, and score it against the prior N(0, I)."""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


class GaussianLatent(nn.Module):
    """Diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))) with the reparameterisation trick."""

    deterministic = False

    def __init__(self, in_dim: int, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.proj = nn.Linear(in_dim, 2 * z_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h (B, in_dim) -> mu, logvar, each (B, Z)."""
        mu, logvar = self.proj(h).float().chunk(2, dim=-1)
        return mu, logvar

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor, n: int = 0, generator: torch.Generator | None = None):
        """z = mu + sigma * eps. n=0: (B, Z); n>0: (B, n, Z)."""
        shape = mu.shape if n == 0 else (mu.shape[0], n, mu.shape[1])
        eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
        if n:
            mu, logvar = mu.unsqueeze(1), logvar.unsqueeze(1)
        return mu + torch.exp(0.5 * logvar) * eps

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Analytic KL(q(z|x) || N(0, I)) per dimension, (B, Z), nats."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)

    @staticmethod
    def log_q(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over dims; z (..., Z) broadcast against mu, logvar."""
        return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)

    @staticmethod
    def log_prior(z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I) summed over the last dim."""
        return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


class DeterministicLatent(nn.Module):
    """The sequence autoencoder's code: z = W h, no noise, no KL."""

    deterministic = True

    def __init__(self, in_dim: int, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.proj = nn.Linear(in_dim, z_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.proj(h).float(), None

    @staticmethod
    def sample(mu: torch.Tensor, logvar: None = None, n: int = 0, generator: torch.Generator | None = None):
        return mu if n == 0 else mu.unsqueeze(1).expand(-1, n, -1)

    @staticmethod
    def kl(mu: torch.Tensor, logvar: None = None) -> torch.Tensor:
        return torch.zeros_like(mu)
