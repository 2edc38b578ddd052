"""Encoders, one file per architecture, built from a table: kind -> a class whose keyword arguments are
``vocab_size`` and the fields of the kind's config dataclass (``textvae.config.model``)."""

from __future__ import annotations

from torch import nn

from textvae.config.model import kind_options
from textvae.models.encoders.conv import ConvEncoder
from textvae.models.encoders.lstm import LSTMEncoder

ENCODERS: dict[str, type[nn.Module]] = {"lstm": LSTMEncoder, "conv": ConvEncoder}


def build_encoder(cfg, vocab_size: int) -> nn.Module:
    """The encoder that ``cfg`` (an encoder config of any registered kind) describes."""
    return ENCODERS[cfg.kind](vocab_size=vocab_size, **kind_options(cfg))


__all__ = ["ENCODERS", "ConvEncoder", "LSTMEncoder", "build_encoder"]
