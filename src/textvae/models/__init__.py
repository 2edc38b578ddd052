"""Models: compositions of an encoder, a latent and a decoder (the contracts: ``textvae.models.interface``)."""

from textvae.models.build import LATENTS, build_model
from textvae.models.decoders import LSTMDecoder, build_decoder, capabilities
from textvae.models.encoders import LSTMEncoder, build_encoder
from textvae.models.interface import Decoder, DecoderOutput, Encoder, Latent
from textvae.models.latent import DeterministicLatent, GaussianLatent
from textvae.models.vae import Output, TextVAE, eval_mode

__all__ = ["LATENTS", "Decoder", "DecoderOutput", "DeterministicLatent", "Encoder", "GaussianLatent", "LSTMDecoder",
           "LSTMEncoder", "Latent", "Output", "TextVAE", "build_decoder", "build_encoder", "build_model",
           "capabilities", "eval_mode"]
