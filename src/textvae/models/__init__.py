"""Models: compositions of an encoder, a latent and a decoder."""

from textvae.models.build import build_model
from textvae.models.decoder import LSTMDecoder
from textvae.models.encoder import LSTMEncoder
from textvae.models.latent import DeterministicLatent, GaussianLatent
from textvae.models.vae import Output, TextVAE

__all__ = ["DeterministicLatent", "GaussianLatent", "LSTMDecoder", "LSTMEncoder", "Output", "TextVAE", "build_model"]
