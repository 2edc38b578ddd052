"""Recipes: YAML files loaded into typed dataclasses, strictly (unknown keys and wrong types are errors)."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from textvae.errors import TextVAEError


@dataclass
class DataConfig:
    corpus: str = "ptb"
    """A registry name (see ``textvae.data.corpus.CORPORA``) or a folder holding train/valid/test files."""
    tokenizer: Literal["word", "char"] = "word"
    lower: bool = False
    max_len: int = 0
    """Drop training sentences with more tokens than this (0: keep all). Evaluation splits are never filtered."""
    vocab_size: int = 0
    """Most frequent words kept, specials included (0: no limit)."""
    min_count: int = 1
    batch_size: int = 32
    """Sentences per training batch; batches hold sentences of similar length."""
    eval_batch_size: int = 128


@dataclass
class ModelConfig:
    type: Literal["vae", "ae", "lm"] = "vae"
    """vae: Gaussian latent; ae: deterministic sequence autoencoder; lm: RNNLM, no latent."""
    embed_dim: int = 353
    hidden_dim: int = 191
    encoder_embed_dim: int = 0
    """0: same as embed_dim."""
    encoder_hidden_dim: int = 0
    """0: same as hidden_dim."""
    latent_dim: int = 13
    z_to_init: bool = True
    """Map z to the decoder's initial LSTM state."""
    z_concat: bool = False
    """Concatenate z to the decoder input at every step."""
    inputless: bool = False
    """Decoder sees no previous words (every input is <unk>), at training and test time."""
    dropout: float = 0.0
    """Dropout on decoder embeddings and LSTM outputs."""
    bidirectional: bool = False
    """Bidirectional encoder LSTM: the summary is the last forward and first backward states (2 x hidden)."""
    layer_norm: bool = False
    """LayerNorm on the encoder summary and on the decoder's LSTM outputs (mu-Forcing's set-up)."""


@dataclass
class KLWeightConfig:
    schedule: Literal["constant", "linear", "sigmoid", "cyclical"] = "constant"
    value: float = 1.0
    """Constant weight (lambda; < 1 as in Alemi et al.), or the final weight of an annealing schedule."""
    start: float = 0.0
    """Weight at step 0 (linear)."""
    steps: int = 10000
    """linear: steps from ``start`` to ``value``; sigmoid: step of the midpoint is steps/2; cyclical: the
    steps that the ``cycles`` cycles span (the weight stays at ``value`` after them)."""
    rate: float = 0.0025
    """sigmoid: slope k of value / (1 + exp(-k (step - steps/2)))."""
    cycles: int = 4
    """cyclical (Fu et al. 2019): number of cycles M."""
    ratio: float = 0.5
    """cyclical: fraction R of each cycle spent rising linearly from 0 to ``value``."""


@dataclass
class WordDropoutConfig:
    keep: float = 1.0
    """Probability k of keeping each conditioned-on word; the rest become <unk> (training only)."""


@dataclass
class AutoGenConfig:
    m: float = 0.0
    """AutoGen (1+m) factor on the reconstruction term; m = 0 is the plain ELBO."""


@dataclass
class MuForcingConfig:
    beta: float = 0.0
    """Margin on the batch spread of posterior means: max(0, beta - 1/(2N) sum ||mu_n - mean mu||^2); 0: off."""


@dataclass
class FreeBitsConfig:
    per_dim: float = 0.0
    """Free bits (Kingma et al. 2016): each dimension's batch-mean KL enters as max(per_dim, KL_d), nats."""
    total: float = 0.0
    """FB-all: the batch-mean total KL enters as max(total, KL), nats."""


@dataclass
class BowConfig:
    weight: float = 0.0
    """Bag-of-words loss (Zhao et al. 2017) weight; 0: off."""
    hidden: int = 400
    """Hidden units of the MLP z -> bag of words (0: a linear map)."""


@dataclass
class ObjectiveConfig:
    kl_weight: KLWeightConfig = field(default_factory=KLWeightConfig)
    word_dropout: WordDropoutConfig = field(default_factory=WordDropoutConfig)
    autogen: AutoGenConfig = field(default_factory=AutoGenConfig)
    mu_forcing: MuForcingConfig = field(default_factory=MuForcingConfig)
    free_bits: FreeBitsConfig = field(default_factory=FreeBitsConfig)
    bow: BowConfig = field(default_factory=BowConfig)


@dataclass
class TrainConfig:
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    epochs: int = 30
    max_steps: int = 0
    """Stop after this many optimiser steps (0: no limit)."""
    clip_grad: float = 5.0
    """Max global gradient norm (0: no clipping)."""
    clip_value: float = 0.0
    """Clip every gradient element to [-clip_value, clip_value] (mu-Forcing's element-wise clipping; 0: off).
    Applied before ``clip_grad`` when both are set."""
    lr_decay: float = 0.5
    """Factor applied to the learning rate when validation loss plateaus (1: never decay)."""
    lr_patience: int = 1
    min_lr: float = 1e-5
    early_stop: int = 5
    """Stop after this many epochs without a better validation loss (0: never)."""
    seed: int = 0
    device: str = "auto"
    """auto (CUDA when present), cpu, cuda, cuda:N."""
    bf16: bool = False
    """bfloat16 autocast for the forward pass."""
    threads: int = 0
    """torch CPU threads (0: torch default)."""
    checkpoint_every: int = 200
    """Steps between resumable checkpoints (also written at every epoch end)."""
    log_every: int = 50
    tensorboard: bool = False


@dataclass
class EvalConfig:
    iw_samples: int = 500
    """K importance samples for nll_iw."""
    iw_tokens: int = 32768
    """nll_iw decodes about this many target tokens (sentence-sample pairs x length) per forward pass."""
    mi: Literal["dataset", "minibatch"] = "dataset"
    au_threshold: float = 0.01
    seed: int = 1234
    n_samples: int = 5
    """Prior samples and test reconstructions printed at the end of training."""


@dataclass
class Recipe:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TextVAEError(f"{source}: '{where}' must be a mapping, got {value!r}")
        return from_dict(tp, value, source, prefix=where + ".")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise TextVAEError(f"{source}: '{where}' must be {_type_name(tp)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where, source)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (type(value) is not tp):
        raise TextVAEError(f"{source}: '{where}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def from_dict(cls: type, data: dict, source: str = "recipe", prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise TextVAEError."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise TextVAEError(f"{source}: unknown key '{prefix}{key}' (known: {', '.join(names)})")
    kwargs = {k: _convert(v, hints[k], prefix + k, source) for k, v in data.items()}
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise TextVAEError(f"--set: expected KEY=VALUE, got '{text}'")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Load a recipe YAML file; ``overrides`` are ``section.key=value`` strings applied on top."""
    path = Path(path)
    if not path.is_file():
        raise TextVAEError(f"{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TextVAEError(f"{path}: not a valid YAML file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise TextVAEError(f"{path}: a recipe must be a mapping of sections")
    for text in overrides or []:
        keys, value = _parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise TextVAEError(f"--set {text}: '{k}' is not a section")
        node[keys[-1]] = value
    return check_ranges(from_dict(Recipe, data, str(path)), str(path))


def check_ranges(recipe: Recipe, source: str) -> Recipe:
    """Values a type check cannot catch: each out-of-range value is a TextVAEError naming its key."""
    o = recipe.objective
    rules = [
        ("objective.autogen.m", o.autogen.m, o.autogen.m >= 0, ">= 0"),
        ("objective.mu_forcing.beta", o.mu_forcing.beta, o.mu_forcing.beta >= 0, ">= 0"),
        ("objective.free_bits.per_dim", o.free_bits.per_dim, o.free_bits.per_dim >= 0, ">= 0"),
        ("objective.free_bits.total", o.free_bits.total, o.free_bits.total >= 0, ">= 0"),
        ("objective.bow.weight", o.bow.weight, o.bow.weight >= 0, ">= 0"),
        ("objective.kl_weight.cycles", o.kl_weight.cycles, o.kl_weight.cycles >= 1, ">= 1"),
        ("objective.kl_weight.ratio", o.kl_weight.ratio, 0 < o.kl_weight.ratio <= 1, "in (0, 1]"),
        ("objective.word_dropout.keep", o.word_dropout.keep, 0 <= o.word_dropout.keep <= 1, "in [0, 1]"),
        ("train.clip_grad", recipe.train.clip_grad, recipe.train.clip_grad >= 0, ">= 0"),
        ("train.clip_value", recipe.train.clip_value, recipe.train.clip_value >= 0, ">= 0"),
    ]
    for key, value, ok, want in rules:
        if not ok:
            raise TextVAEError(f"{source}: '{key}' must be {want}, got {value!r}")
    if o.free_bits.per_dim > 0 and o.free_bits.total > 0:
        raise TextVAEError(f"{source}: 'objective.free_bits': give per_dim or total, not both")
    return recipe


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False)
