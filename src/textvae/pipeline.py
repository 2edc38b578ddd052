"""Glue between recipes, corpora and run folders: load data, build a model, reopen a run."""

from __future__ import annotations

from pathlib import Path

import torch

from textvae.allocator import keep_freed_memory
from textvae.config import DataConfig, Recipe, load_recipe
from textvae.data.corpus import Split, corpus_lines, encode_split, tokenize_lines
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError
from textvae.models.build import build_model
from textvae.models.vae import TextVAE
from textvae.models.weights import load_weights
from textvae.run import Run


def load_splits(cfg: DataConfig, vocab: Vocab | None = None, splits=("train", "valid", "test"),
                log=print) -> tuple[Vocab, dict[str, Split]]:
    """Read and encode splits; the vocabulary is built from the training split unless given."""
    tokens = {s: tokenize_lines(corpus_lines(cfg, s), cfg.tokenizer, cfg.lower) for s in splits}
    if vocab is None:
        train = tokens["train"] if "train" in tokens else tokenize_lines(corpus_lines(cfg, "train"), cfg.tokenizer,
                                                                          cfg.lower)
        vocab = Vocab.build(train, cfg.vocab_size, cfg.min_count)
    out = {}
    for s in splits:
        out[s] = encode_split(s, tokens[s], vocab, cfg.max_len if s == "train" else 0, cfg.reverse)
        if out[s].dropped:
            names = f"{cfg.corpus} ({s})"
            if not out[s].ids:
                raise TextVAEError(f"{names}: all {out[s].dropped} lines are longer than data.max_len={cfg.max_len} "
                                   f"tokens: nothing to train on")
            log(f"{names}: dropped {out[s].dropped} of {len(tokens[s])} lines longer than {cfg.max_len} tokens")
    return vocab, out


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when present, else ``cpu``; a device that is not here is a TextVAEError. On CPU this
    also sets the allocator up for training and evaluation loops (:func:`textvae.allocator.keep_freed_memory`)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= count:
            raise TextVAEError(f"device '{name}': this machine has {count} CUDA device(s); use auto or cpu")
    elif name == "mps" and not torch.backends.mps.is_available():
        raise TextVAEError("device 'mps': not available here; use auto or cpu")
    elif name not in ("cpu", "mps"):
        raise TextVAEError(f"device '{name}': must be auto, cpu, cuda, cuda:N or mps")
    if name == "cpu":
        keep_freed_memory()
    return name


def load_run(path: str | Path, device: str | None = None) -> tuple[Recipe, Vocab, TextVAE]:
    """Reopen a trained run: its recipe, vocabulary and best weights, on ``device`` (default: the recipe's). The
    model is in eval mode with gradients off: for inference only, and safe to share between threads."""
    run = Run(Path(path))
    if not run.path.is_dir() or not run.config.is_file():
        raise TextVAEError(f"{run.path}: not a run folder (no config.yaml)")
    recipe = load_recipe(run.config)
    vocab = Vocab.load(run.vocab)
    model = build_model(recipe.model, len(vocab))
    load_weights(run.best, model, vocab.fingerprint)
    model.requires_grad_(False)
    return recipe, vocab, model.to(resolve_device(device or recipe.train.device)).eval()
