"""Decoders, one file per architecture, built from a table: kind -> a class whose keyword arguments are
``vocab_size``, ``z_dim`` (0: a language model without z) and the fields of the kind's config dataclass
(``textvae.config.model``). Every decoder implements ``textvae.models.interface.Decoder``."""

from __future__ import annotations

from torch import nn

from textvae.config.model import kind_options
from textvae.models.decoders.autr import AUTRDecoder
from textvae.models.decoders.bytenet import ByteNetDecoder
from textvae.models.decoders.deconv import DeconvDecoder
from textvae.models.decoders.hybrid import HybridDecoder
from textvae.models.decoders.lstm import LSTMDecoder

DECODERS: dict[str, type[nn.Module]] = {"lstm": LSTMDecoder, "deconv": DeconvDecoder, "hybrid": HybridDecoder,
                                        "bytenet": ByteNetDecoder, "autr": AUTRDecoder}


def build_decoder(cfg, vocab_size: int, z_dim: int) -> nn.Module:
    """The decoder that ``cfg`` (a decoder config of any registered kind) describes, conditioned on z of size
    ``z_dim``."""
    return DECODERS[cfg.kind](vocab_size=vocab_size, z_dim=z_dim, **kind_options(cfg))


__all__ = ["DECODERS", "AUTRDecoder", "ByteNetDecoder", "DeconvDecoder", "HybridDecoder", "LSTMDecoder",
           "build_decoder"]
