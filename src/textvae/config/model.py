"""The model section of a recipe: the model type, the latent size, and an encoder and a decoder chosen by kind.

```yaml
model:
  type: vae                     # vae (Gaussian latent), ae (deterministic code), lm (no encoder, no latent)
  latent_dim: 13
  encoder: {kind: lstm, embed_dim: 353, hidden_dim: 191}
  decoder: {kind: lstm, embed_dim: 353, hidden_dim: 191, z_to_init: true}
```

Each kind is a dataclass whose ``kind`` field names it, with its own range rules and length limit
(:class:`KindConfig`); the loader picks the dataclass from the section's ``kind`` (default: the first registered
kind) and then loads it strictly, so a key that the chosen kind does not have is an error naming it. A new kind is
its module (one file in ``textvae.models.encoders`` or ``textvae.models.decoders``, whose keyword arguments are the
dataclass's fields), the dataclass here and one :class:`Kind` line in :data:`ENCODER_KINDS` or
:data:`DECODER_KINDS` naming both and declaring what the kind can do. Nothing here imports torch.

Recipes and run folders written before the kinds existed have a flat model section (``embed_dim``,
``hidden_dim``, ``z_concat``, ... directly under ``model``); :func:`upgrade_flat_model` turns one into the
nested shape, checked as strictly as before (``docs/design.md``, "The config shape").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Rule = tuple[str, Any, bool, str]
"""A range rule of a config class: (field, value, whether it holds, what is allowed). What is allowed may name a
sibling field as ``@.FIELD``; the loader writes it with the section's key (``model.decoder.FIELD``)."""


def _at_least_one(cfg, *names: str) -> list[Rule]:
    return [(n, getattr(cfg, n), getattr(cfg, n) >= 1, ">= 1") for n in names]


def _dropout(value: float) -> Rule:
    return ("dropout", value, 0 <= value < 1, "in [0, 1)")


def _channels(channels: list[int]) -> Rule:
    return ("channels", channels, bool(channels) and min(channels) >= 1, "a non-empty list of sizes >= 1")


def _halvable(length: int, halvings: int) -> Rule:
    """A fixed length that ``halvings`` stride-2 layers can halve."""
    return ("length", length, length >= 2 and length % 2 ** halvings == 0,
            f"a multiple of {2 ** halvings} (its {halvings} stride-2 layers halve it), >= 2")


class KindConfig:
    """What every encoder and decoder config declares besides its fields: its range rules and the most tokens a
    sentence may have under it."""

    def rules(self) -> list[Rule]:
        """Range rules of its fields (the loader names them ``model.encoder.FIELD`` or ``model.decoder.FIELD``)."""
        return []

    def length_limit(self) -> int:
        """The most tokens (</s> included) a sentence may have: the fixed length of a convolutional part, the
        positions of a Transformer; 0: no limit."""
        return 0


@dataclass(frozen=True)
class Kind:
    """One registered encoder or decoder kind: its config class, its builder (``module:Class``, imported when a
    model is built, so that configs load without torch) and what it can do.

    ``needs_z``: it decodes only from a latent code (no ``type: lm``). ``canvas``: AUTR's canvas (EM imputation,
    canvas pictures). The length limit is the config's (:meth:`KindConfig.length_limit`)."""

    config: type
    builder: str
    needs_z: bool = False
    canvas: bool = False

    def build(self, **kwargs):
        """The module, from the builder's keyword arguments."""
        import importlib

        module, name = self.builder.split(":")
        return getattr(importlib.import_module(module), name)(**kwargs)


@dataclass
class LSTMEncoderConfig(KindConfig):
    """A one-layer LSTM reading the sentence; its summary is the state after the last word."""

    kind: Literal["lstm"] = "lstm"
    embed_dim: int = 353
    hidden_dim: int = 191
    bidirectional: bool = False
    """Also read right to left: the summary is the last forward and first backward states (2 x hidden)."""
    layer_norm: bool = False
    """LayerNorm on the summary (mu-Forcing's set-up)."""

    def rules(self) -> list[Rule]:
        return _at_least_one(self, "embed_dim", "hidden_dim")


@dataclass
class LSTMDecoderConfig(KindConfig):
    """An LSTM language model conditioned on z (Bowman et al. 2016: one layer); with ``type: lm``, the RNNLM."""

    kind: Literal["lstm"] = "lstm"
    embed_dim: int = 353
    hidden_dim: int = 191
    layers: int = 1
    """Stacked LSTM layers; z sets every layer's initial state, dropout also applies between layers."""
    tie_embeddings: bool = False
    """The output layer shares the input embedding matrix (Press & Wolf 2017, Inan et al. 2017): V x H fewer
    parameters. Needs embed_dim == hidden_dim."""
    z_to_init: bool = True
    """Map z to the initial LSTM state."""
    z_concat: bool = False
    """Concatenate z to the input at every step."""
    inputless: bool = False
    """See no previous words (every input is <unk>), at training and test time."""
    dropout: float = 0.0
    """Dropout on the embeddings, between LSTM layers and on the LSTM outputs."""
    layer_norm: bool = False
    """LayerNorm on the LSTM outputs (mu-Forcing's set-up)."""

    def rules(self) -> list[Rule]:
        return [*_at_least_one(self, "embed_dim", "hidden_dim", "layers"), _dropout(self.dropout),
                ("tie_embeddings", self.tie_embeddings, not self.tie_embeddings or self.embed_dim == self.hidden_dim,
                 f"false unless @.embed_dim equals its hidden_dim ({self.embed_dim} != {self.hidden_dim})")]


@dataclass
class ConvEncoderConfig(KindConfig):
    """Semeniuta et al. 2017: 1-D convolutions (kernel 3, stride 2, batch normalisation, ReLU) over a sentence
    padded to ``length`` tokens (</s> included), flattened. Fixed length: ``length`` must be a multiple of
    2^len(channels)."""

    kind: Literal["conv"] = "conv"
    length: int = 64
    embed_dim: int = 64
    channels: list[int] = field(default_factory=lambda: [128, 256])
    """Feature maps of each layer (the paper's grid: 128, 256, 512, 512, 512)."""

    def rules(self) -> list[Rule]:
        return [*_at_least_one(self, "embed_dim", "length"), _channels(self.channels),
                *([_halvable(self.length, len(self.channels))] if self.channels else [])]

    def length_limit(self) -> int:
        return self.length


class _DeconvStack(KindConfig):
    """The deconvolution stack's rules: ``len(channels) - 1`` stride-2 layers double a map of length / 2^that."""

    sizes: tuple[str, ...] = ("length",)
    """The fields that are sizes (>= 1)."""

    def rules(self) -> list[Rule]:
        return [*_at_least_one(self, *self.sizes), _channels(self.channels),
                *([_halvable(self.length, len(self.channels) - 1)] if self.channels else [])]

    def length_limit(self) -> int:
        return self.length


@dataclass
class DeconvDecoderConfig(_DeconvStack):
    """Semeniuta et al.'s feed-forward decoder (Fig. 2a): z -> a short, wide map (``channels[0]`` x length /
    2^(layers)) -> transposed convolutions (kernel 3, stride 2, batch normalisation, ReLU) doubling the length, down
    to ``channels[-1]`` features at each of ``length`` positions -> logits. Historyless: it never sees the words it
    has written; with no word it is the fully feed-forward VAE."""

    kind: Literal["deconv"] = "deconv"
    length: int = 64
    channels: list[int] = field(default_factory=lambda: [256, 128, 200])


@dataclass
class HybridDecoderConfig(_DeconvStack):
    """Semeniuta et al.'s hybrid decoder (Fig. 2b): the deconvolution stack of ``deconv`` and an LSTM of
    ``hidden_dim`` with layer normalisation that reads its activations concatenated with the previous token's
    embedding. Auxiliary head ``deconv``: the stack's own logits (eq. 3-4)."""

    kind: Literal["hybrid"] = "hybrid"
    length: int = 64
    channels: list[int] = field(default_factory=lambda: [256, 128, 200])
    embed_dim: int = 64
    hidden_dim: int = 500
    layer_norm: bool = True
    sizes = ("length", "embed_dim", "hidden_dim")


@dataclass
class ByteNetDecoderConfig(_DeconvStack):
    """Semeniuta et al.'s hybrid decoder with a ByteNet-like top (Fig. 2c): ``layers`` masked causal convolutions
    (kernel 2, no dilation, gated, residual) over the deconvolution activations concatenated with the previous
    token's embedding; the receptive field is layers + 1 tokens. Auxiliary head ``deconv``."""

    kind: Literal["bytenet"] = "bytenet"
    length: int = 64
    channels: list[int] = field(default_factory=lambda: [256, 128, 200])
    embed_dim: int = 64
    hidden_dim: int = 256
    layers: int = 2
    sizes = ("length", "embed_dim", "hidden_dim", "layers")


@dataclass
class AUTRDecoderConfig(KindConfig):
    """AUTR (Shah and Barber): an LSTM of ``hidden_dim`` writes a canvas of ``length`` slots of ``embed_dim`` in
    ``steps`` steps through a modified softmax attention (no slot written more than once in total); a Markov output
    model reads the words off it, its output layer tied to the embeddings. Fixed length: a sentence and its </s>
    fill at most ``length`` slots. The paper: L = 40, E = 300, 500 units, T = 30 or 40."""

    kind: Literal["autr"] = "autr"
    length: int = 40
    embed_dim: int = 300
    hidden_dim: int = 500
    steps: int = 40

    def rules(self) -> list[Rule]:
        return _at_least_one(self, "length", "embed_dim", "hidden_dim", "steps")

    def length_limit(self) -> int:
        return self.length


@dataclass
class TransformerDecoderConfig(KindConfig):
    """A small causal Transformer (pre-norm blocks, GELU, learned positions); z enters as one prefix position that
    every word attends to. ``max_len``: the positions it can score (</s> included): longer sentences are an error
    unless ``data.cut``."""

    kind: Literal["transformer"] = "transformer"
    embed_dim: int = 256
    layers: int = 2
    heads: int = 4
    ff_dim: int = 1024
    dropout: float = 0.1
    max_len: int = 128

    def rules(self) -> list[Rule]:
        return [*_at_least_one(self, "embed_dim", "layers", "heads", "ff_dim", "max_len"), _dropout(self.dropout),
                ("heads", self.heads, self.heads >= 1 and self.embed_dim % self.heads == 0,
                 f"a divisor of @.embed_dim ({self.embed_dim})")]

    def length_limit(self) -> int:
        return self.max_len


ENCODER_KINDS: dict[str, Kind] = {
    "lstm": Kind(LSTMEncoderConfig, "textvae.models.encoders.lstm:LSTMEncoder"),
    "conv": Kind(ConvEncoderConfig, "textvae.models.encoders.conv:ConvEncoder"),
}
"""Encoder kind -> its registry entry (the first is the default)."""
DECODER_KINDS: dict[str, Kind] = {
    "lstm": Kind(LSTMDecoderConfig, "textvae.models.decoders.lstm:LSTMDecoder"),
    "deconv": Kind(DeconvDecoderConfig, "textvae.models.decoders.deconv:DeconvDecoder", needs_z=True),
    "hybrid": Kind(HybridDecoderConfig, "textvae.models.decoders.hybrid:HybridDecoder", needs_z=True),
    "bytenet": Kind(ByteNetDecoderConfig, "textvae.models.decoders.bytenet:ByteNetDecoder", needs_z=True),
    "autr": Kind(AUTRDecoderConfig, "textvae.models.decoders.autr:AUTRDecoder", needs_z=True, canvas=True),
    "transformer": Kind(TransformerDecoderConfig, "textvae.models.decoders.transformer:TransformerDecoder"),
}
"""Decoder kind -> its registry entry (the first is the default)."""

EncoderConfig = LSTMEncoderConfig | ConvEncoderConfig
"""Any encoder config."""
DecoderConfig = (LSTMDecoderConfig | DeconvDecoderConfig | HybridDecoderConfig | ByteNetDecoderConfig
                 | AUTRDecoderConfig | TransformerDecoderConfig)
"""Any decoder config."""


@dataclass
class ModelConfig:
    type: Literal["vae", "ae", "lm"] = "vae"
    """vae: Gaussian latent; ae: deterministic sequence autoencoder; lm: language model (no encoder, no latent:
    the encoder section is ignored)."""
    latent_dim: int = 13
    encoder: EncoderConfig = field(default_factory=LSTMEncoderConfig, metadata={"kinds": ENCODER_KINDS})
    decoder: DecoderConfig = field(default_factory=LSTMDecoderConfig, metadata={"kinds": DECODER_KINDS})
    init_range: float = 0.0
    """0: every layer keeps its own PyTorch initialisation. > 0: every parameter is drawn from U(-init_range,
    init_range) and then every embedding matrix from U(-embed_init_range, embed_init_range), padding rows and
    padding columns kept zero: the protocol papers' code (He et al. 2019, Li et al. 2019: 0.01 and 0.1)."""
    embed_init_range: float = 0.1
    """The embeddings' range under ``init_range`` > 0 (a tied output layer, being the embedding, gets it too)."""


def kind_options(cfg) -> dict:
    """A kind's config as keyword arguments for its builder: every field but ``kind``."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "kind"}


# --- the flat model section of textvae 0.1 --------------------------------------------------------------------


@dataclass
class FlatModelConfig:
    """The model section as textvae 0.1 wrote it (LSTM encoder and decoder only), with its defaults."""

    type: Literal["vae", "ae", "lm"] = "vae"
    embed_dim: int = 353
    hidden_dim: int = 191
    encoder_embed_dim: int = 0
    """0: same as embed_dim."""
    encoder_hidden_dim: int = 0
    """0: same as hidden_dim."""
    latent_dim: int = 13
    z_to_init: bool = True
    z_concat: bool = False
    inputless: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    layer_norm: bool = False


FLAT_ONLY = frozenset(f.name for f in dataclasses.fields(FlatModelConfig)) - {"type", "latent_dim"}


def is_flat(section: dict) -> bool:
    """Whether a model section uses a key that only the flat shape has."""
    return any(k in FLAT_ONLY for k in section)


def upgrade_flat_model(flat: FlatModelConfig) -> dict:
    """The nested model section (a plain mapping) equivalent to a flat one: the same modules, sizes and options
    (a language model has no encoder: its section keeps the defaults)."""
    nested = {
        "type": flat.type,
        "latent_dim": flat.latent_dim,
        "decoder": {"kind": "lstm", "embed_dim": flat.embed_dim, "hidden_dim": flat.hidden_dim,
                    "z_to_init": flat.z_to_init, "z_concat": flat.z_concat, "inputless": flat.inputless,
                    "dropout": flat.dropout, "layer_norm": flat.layer_norm},
    }
    if flat.type != "lm":
        nested["encoder"] = {"kind": "lstm", "embed_dim": flat.encoder_embed_dim or flat.embed_dim,
                             "hidden_dim": flat.encoder_hidden_dim or flat.hidden_dim,
                             "bidirectional": flat.bidirectional, "layer_norm": flat.layer_norm}
    return nested


def fixed_length(m: ModelConfig) -> int:
    """Tokens (</s> included) a sentence may have under the model: the smallest length limit of the encoder
    (unless an RNNLM, which has none) and the decoder; 0 where neither has one."""
    parts = (m.decoder,) if m.type == "lm" else (m.encoder, m.decoder)
    return min((n for n in (part.length_limit() for part in parts) if n), default=0)
