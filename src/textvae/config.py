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


@dataclass
class KLWeightConfig:
    schedule: Literal["constant", "linear", "sigmoid"] = "constant"
    value: float = 1.0
    """Constant weight, or the final weight of an annealing schedule."""
    start: float = 0.0
    """Weight at step 0 (linear)."""
    steps: int = 10000
    """linear: steps from ``start`` to ``value``; sigmoid: step of the midpoint is steps/2."""
    rate: float = 0.0025
    """sigmoid: slope k of value / (1 + exp(-k (step - steps/2)))."""


@dataclass
class WordDropoutConfig:
    keep: float = 1.0
    """Probability k of keeping each conditioned-on word; the rest become <unk> (training only)."""


@dataclass
class ObjectiveConfig:
    kl_weight: KLWeightConfig = field(default_factory=KLWeightConfig)
    word_dropout: WordDropoutConfig = field(default_factory=WordDropoutConfig)


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
    return from_dict(Recipe, data, str(path))


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False)
