"""Decoders, one file per architecture. Each kind is one entry of ``textvae.config.DECODER_KINDS``: its config
dataclass, its class here (built with ``vocab_size``, ``z_dim`` (0: a language model without z) and the config's
fields as keyword arguments) and what it can do. Every decoder implements ``textvae.models.interface.Decoder``."""

from __future__ import annotations

from torch import nn

from textvae.config.model import DECODER_KINDS, Kind, kind_options
from textvae.models.decoders.autr import AUTRDecoder
from textvae.models.decoders.bytenet import ByteNetDecoder
from textvae.models.decoders.deconv import DeconvDecoder
from textvae.models.decoders.hybrid import HybridDecoder
from textvae.models.decoders.lstm import LSTMDecoder


def build_decoder(cfg, vocab_size: int, z_dim: int) -> nn.Module:
    """The decoder that ``cfg`` (a decoder config of any registered kind) describes, conditioned on z of size
    ``z_dim``; it carries its registry entry as ``kind`` (what it can do)."""
    kind = DECODER_KINDS[cfg.kind]
    decoder = kind.build(vocab_size=vocab_size, z_dim=z_dim, **kind_options(cfg))
    decoder.kind = kind
    return decoder


def capabilities(decoder) -> Kind | None:
    """The registry entry of a decoder built from a config (None for one built by hand)."""
    kind = getattr(decoder, "kind", None)
    return kind if isinstance(kind, Kind) else None


__all__ = ["AUTRDecoder", "ByteNetDecoder", "DeconvDecoder", "HybridDecoder", "LSTMDecoder", "build_decoder",
           "capabilities"]
