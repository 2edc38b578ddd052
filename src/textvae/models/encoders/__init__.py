"""Encoders, one file per architecture. Each kind is one entry of ``textvae.config.ENCODER_KINDS``: its config
dataclass and its class here, built with ``vocab_size`` and the config's fields as keyword arguments."""

from __future__ import annotations

from torch import nn

from textvae.config.model import ENCODER_KINDS, kind_options
from textvae.models.encoders.conv import ConvEncoder
from textvae.models.encoders.lstm import LSTMEncoder


def build_encoder(cfg, vocab_size: int) -> nn.Module:
    """The encoder that ``cfg`` (an encoder config of any registered kind) describes."""
    return ENCODER_KINDS[cfg.kind].build(vocab_size=vocab_size, **kind_options(cfg))


__all__ = ["ConvEncoder", "LSTMEncoder", "build_encoder"]
