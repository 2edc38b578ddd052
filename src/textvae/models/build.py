"""Build a TextVAE from a ModelConfig."""

from __future__ import annotations

from textvae.config import ModelConfig
from textvae.models.decoder import LSTMDecoder
from textvae.models.encoder import LSTMEncoder
from textvae.models.latent import DeterministicLatent, GaussianLatent
from textvae.models.vae import TextVAE


def build_model(cfg: ModelConfig, vocab_size: int) -> TextVAE:
    z_dim = 0 if cfg.type == "lm" else cfg.latent_dim
    decoder = LSTMDecoder(vocab_size, cfg.embed_dim, cfg.hidden_dim, z_dim, cfg.z_to_init, cfg.z_concat,
                          cfg.inputless, cfg.dropout, cfg.layer_norm)
    if cfg.type == "lm":
        return TextVAE(None, None, decoder)
    encoder = LSTMEncoder(vocab_size, cfg.encoder_embed_dim or cfg.embed_dim, cfg.encoder_hidden_dim or cfg.hidden_dim,
                          cfg.bidirectional, cfg.layer_norm)
    latent_cls = GaussianLatent if cfg.type == "vae" else DeterministicLatent
    return TextVAE(encoder, latent_cls(encoder.out_dim, z_dim), decoder)
