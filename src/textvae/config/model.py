"""The model section of a recipe: the model type, the latent size, and an encoder and a decoder chosen by kind.

```yaml
model:
  type: vae                     # vae (Gaussian latent), ae (deterministic code), lm (no encoder, no latent)
  latent_dim: 13
  encoder: {kind: lstm, embed_dim: 353, hidden_dim: 191}
  decoder: {kind: lstm, embed_dim: 353, hidden_dim: 191, z_to_init: true}
```

Each kind is a dataclass whose ``kind`` field names it; the loader picks the dataclass from the section's ``kind``
(default: the first registered kind) and then loads it strictly, so a key that the chosen kind does not have is
an error naming it. A new kind is a dataclass here, registered in :data:`ENCODER_KINDS` or :data:`DECODER_KINDS`,
and a builder in ``textvae.models.encoders`` or ``textvae.models.decoders`` whose keyword arguments are the
dataclass's fields. Nothing here imports torch.

Recipes and run folders written before the kinds existed have a flat model section (``embed_dim``,
``hidden_dim``, ``z_concat``, ... directly under ``model``); :func:`upgrade_flat_model` turns one into the
nested shape, checked as strictly as before (``docs/design.md``, "The config shape").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class LSTMEncoderConfig:
    """A one-layer LSTM reading the sentence; its summary is the state after the last word."""

    kind: Literal["lstm"] = "lstm"
    embed_dim: int = 353
    hidden_dim: int = 191
    bidirectional: bool = False
    """Also read right to left: the summary is the last forward and first backward states (2 x hidden)."""
    layer_norm: bool = False
    """LayerNorm on the summary (mu-Forcing's set-up)."""


@dataclass
class LSTMDecoderConfig:
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


@dataclass
class ConvEncoderConfig:
    """Semeniuta et al. 2017: 1-D convolutions (kernel 3, stride 2, batch normalisation, ReLU) over a sentence
    padded to ``length`` tokens (</s> included), flattened. Fixed length: ``length`` must be a multiple of
    2^len(channels)."""

    kind: Literal["conv"] = "conv"
    length: int = 64
    embed_dim: int = 64
    channels: list[int] = field(default_factory=lambda: [128, 256])
    """Feature maps of each layer (the paper's grid: 128, 256, 512, 512, 512)."""


@dataclass
class DeconvDecoderConfig:
    """Semeniuta et al.'s feed-forward decoder (Fig. 2a): z -> a short, wide map (``channels[0]`` x length /
    2^(layers)) -> transposed convolutions (kernel 3, stride 2, batch normalisation, ReLU) doubling the length, down
    to ``channels[-1]`` features at each of ``length`` positions -> logits. Historyless: it never sees the words it
    has written; with no word it is the fully feed-forward VAE."""

    kind: Literal["deconv"] = "deconv"
    length: int = 64
    channels: list[int] = field(default_factory=lambda: [256, 128, 200])


@dataclass
class HybridDecoderConfig:
    """Semeniuta et al.'s hybrid decoder (Fig. 2b): the deconvolution stack of ``deconv`` and an LSTM of
    ``hidden_dim`` with layer normalisation that reads its activations concatenated with the previous token's
    embedding. Auxiliary head ``deconv``: the stack's own logits (eq. 3-4)."""

    kind: Literal["hybrid"] = "hybrid"
    length: int = 64
    channels: list[int] = field(default_factory=lambda: [256, 128, 200])
    embed_dim: int = 64
    hidden_dim: int = 500
    layer_norm: bool = True


@dataclass
class ByteNetDecoderConfig:
    """Semeniuta et al.'s hybrid decoder with a ByteNet-like top (Fig. 2c): ``layers`` masked causal convolutions
    (kernel 2, no dilation, gated, residual) over the deconvolution activations concatenated with the previous
    token's embedding; the receptive field is layers + 1 tokens. Auxiliary head ``deconv``."""

    kind: Literal["bytenet"] = "bytenet"
    length: int = 64
    channels: list[int] = field(default_factory=lambda: [256, 128, 200])
    embed_dim: int = 64
    hidden_dim: int = 256
    layers: int = 2


@dataclass
class AUTRDecoderConfig:
    """AUTR (Shah and Barber): an LSTM of ``hidden_dim`` writes a canvas of ``length`` slots of ``embed_dim`` in
    ``steps`` steps through a modified softmax attention (no slot written more than once in total); a Markov output
    model reads the words off it, its output layer tied to the embeddings. Fixed length: a sentence and its </s>
    fill at most ``length`` slots. The paper: L = 40, E = 300, 500 units, T = 30 or 40."""

    kind: Literal["autr"] = "autr"
    length: int = 40
    embed_dim: int = 300
    hidden_dim: int = 500
    steps: int = 40


ENCODER_KINDS: dict[str, type] = {"lstm": LSTMEncoderConfig, "conv": ConvEncoderConfig}
"""Encoder kind -> its config dataclass (the first is the default)."""
DECODER_KINDS: dict[str, type] = {"lstm": LSTMDecoderConfig, "deconv": DeconvDecoderConfig,
                                  "hybrid": HybridDecoderConfig, "bytenet": ByteNetDecoderConfig,
                                  "autr": AUTRDecoderConfig}
"""Decoder kind -> its config dataclass (the first is the default)."""

EncoderConfig = LSTMEncoderConfig | ConvEncoderConfig
"""Any encoder config."""
DecoderConfig = (LSTMDecoderConfig | DeconvDecoderConfig | HybridDecoderConfig | ByteNetDecoderConfig
                 | AUTRDecoderConfig)
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
    """Tokens (</s> included) a sentence may have under models of fixed length: the smallest ``length`` of the
    encoder (unless an RNNLM, which has none) and decoder configs that have one; 0 where neither has."""
    parts = (m.decoder,) if m.type == "lm" else (m.encoder, m.decoder)
    lengths = [getattr(part, "length", 0) for part in parts]
    return min((n for n in lengths if n), default=0)
