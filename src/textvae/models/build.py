"""Build a TextVAE from a ModelConfig: the encoder and decoder from their tables by kind, the latent by type."""

from __future__ import annotations

from torch import nn

from textvae.config.model import ModelConfig
from textvae.models.decoders import build_decoder
from textvae.models.encoders import build_encoder
from textvae.models.init import uniform_init
from textvae.models.latent import DeterministicLatent, GaussianLatent
from textvae.models.vae import TextVAE

LATENTS: dict[str, type[nn.Module]] = {"vae": GaussianLatent, "ae": DeterministicLatent}
"""Model type -> latent class, built as ``cls(in_dim, z_dim)`` (the language model ``lm`` has none)."""


def build_model(cfg: ModelConfig, vocab_size: int) -> TextVAE:
    """The model ``cfg`` describes over a vocabulary of ``vocab_size``: ``lm`` is a decoder alone, ``vae`` and
    ``ae`` an encoder, a Gaussian or deterministic latent of ``latent_dim`` and a decoder conditioned on it."""
    z_dim = 0 if cfg.type == "lm" else cfg.latent_dim
    decoder = build_decoder(cfg.decoder, vocab_size, z_dim)  # built first: the weights of a seed stay as they were
    if cfg.type == "lm":
        model = TextVAE(None, None, decoder)
    else:
        encoder = build_encoder(cfg.encoder, vocab_size)
        model = TextVAE(encoder, LATENTS[cfg.type](encoder.out_dim, z_dim), decoder)
    if cfg.init_range > 0:
        uniform_init(model, cfg.init_range, cfg.embed_init_range)
    return model
