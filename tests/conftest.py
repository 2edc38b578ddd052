"""Shared fixtures: tiny models over tiny vocabularies, seeded generators, random sentences."""

from __future__ import annotations

import random

import pytest
import torch

from textvae.config import LSTMDecoderConfig, LSTMEncoderConfig, ModelConfig
from textvae.data.vocab import SPECIALS
from textvae.models import build_model

# The test machine is shared with background work: keep torch to one thread (also makes timings stable).
torch.set_num_threads(1)

N_SPECIALS = len(SPECIALS)


def tiny_model(model_type: str = "vae", vocab_size: int = 10, seed: int = 0, latent_dim: int = 3,
               encoder: dict | None = None, decoder: dict | None = None):
    """A TextVAE with LSTMs of embed 8, hidden 16, in eval mode; weights fixed by ``seed``. ``encoder``,
    ``decoder``: further options of the LSTM encoder and decoder (z_concat, inputless, bidirectional, sizes...)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(type=model_type, latent_dim=latent_dim,
                      encoder=LSTMEncoderConfig(**{"embed_dim": 8, "hidden_dim": 16, **(encoder or {})}),
                      decoder=LSTMDecoderConfig(**{"embed_dim": 8, "hidden_dim": 16, **(decoder or {})}))
    return build_model(cfg, vocab_size).eval()


def random_sentences(n: int, vocab_size: int, min_len: int = 1, max_len: int = 6, seed: int = 0) -> list[list[int]]:
    """``n`` sentences of word ids (no specials) of random lengths in [min_len, max_len]."""
    rng = random.Random(seed)
    return [[rng.randrange(N_SPECIALS, vocab_size) for _ in range(rng.randint(min_len, max_len))] for _ in range(n)]


@pytest.fixture
def make_model():
    """Builder of tiny models: ``make_model("vae" | "ae" | "lm", vocab_size=10, seed=0, latent_dim=3, encoder={...},
    decoder={...})``."""
    return tiny_model


@pytest.fixture
def make_sentences():
    """Builder of random word-id sentences: ``make_sentences(n, vocab_size, min_len, max_len, seed)``."""
    return random_sentences


@pytest.fixture
def gen():
    """Seeded CPU generator factory: ``gen(seed)``."""
    return lambda seed=0: torch.Generator().manual_seed(seed)
