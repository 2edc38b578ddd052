"""Tiny corpora and recipes for fast tests."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

WORDS = "the a cat dog sees likes big small red blue runs sleeps".split()


def write_corpus(folder: Path, n_train: int = 60, n_eval: int = 12, seed: int = 0) -> Path:
    """train/valid/test files of short random sentences over a 12-word vocabulary."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7))) for _ in range(n)]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def tiny_recipe(corpus: Path, **sections) -> dict:
    recipe = {
        "name": "tiny",
        "data": {"corpus": str(corpus), "batch_size": 8, "eval_batch_size": 16},
        "model": {"type": "vae", "latent_dim": 4, "encoder": {"embed_dim": 8, "hidden_dim": 16},
                  "decoder": {"embed_dim": 8, "hidden_dim": 16}},
        "objective": {"kl_weight": {"schedule": "linear", "steps": 10}, "word_dropout": {"keep": 0.7}},
        "train": {"epochs": 2, "checkpoint_every": 3, "log_every": 2, "threads": 1},
        "eval": {"iw_samples": 5, "n_samples": 2},
    }
    return merge(recipe, sections)


def merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in, section by section (nested mappings merged, other values replaced)."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def bf16_lstm_runs() -> bool:
    """Whether this machine runs an LSTM under bf16 autocast (oneDNN on a CPU without AVX-512 does not)."""
    from textvae.precision import bf16_lstm_failure

    return bf16_lstm_failure() is None
