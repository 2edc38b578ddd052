"""Starting and resuming a training run: the run folder, the data, the model and its Trainer."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from textvae.atomic import write_text_atomic
from textvae.config import Recipe, load_recipe, recipe_to_yaml
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError
from textvae.models.build import build_model
from textvae.pipeline import load_splits, resolve_device
from textvae.run import Run
from textvae.training.trainer import Trainer, seed_everything


def check_single_process() -> None:
    """Multi-process training does not exist yet: a launch under torchrun with WORLD_SIZE > 1 would run
    independent copies into one run folder, so it stops here with a one-line error."""
    world = os.environ.get("WORLD_SIZE", "1")
    if world.strip() not in ("", "0", "1"):
        raise TextVAEError(f"WORLD_SIZE={world}: multi-process training (torchrun, DDP) is not supported yet; "
                           f"launch a single process")


def start_run(recipe: str | Path, overrides: list[str] | None = None, out: str | Path | None = None,
              device: str | None = None, log: Callable[[str], None] = print) -> Trainer:
    """A Trainer for a new run of the recipe file (with ``--set`` style ``overrides``) in ``out`` (default:
    runs/<recipe name>): the vocabulary and config.yaml are written, config.yaml last (it marks a run folder)."""
    check_single_process()
    cfg = load_recipe(recipe, overrides)
    run = Run(Path(out) if out is not None else Path("runs") / cfg.name)
    if run.checkpoint.exists() or run.config.exists():
        raise TextVAEError(f"{run.path}: run folder already holds a run; use --resume {run.path} or --out")
    vocab, splits = load_splits(cfg.data, splits=("train", "valid"), log=log)
    run.path.mkdir(parents=True, exist_ok=True)
    vocab.save(run.vocab)
    write_text_atomic(run.config, recipe_to_yaml(cfg))
    return _trainer(cfg, vocab, splits, run, device, log)


def resume_run(path: str | Path, device: str | None = None, log: Callable[[str], None] = print) -> Trainer:
    """A Trainer that continues the run in ``path`` exactly where its last checkpoint left it, under the run's
    own config.yaml."""
    check_single_process()
    run = Run(Path(path))
    if not run.config.is_file():
        raise TextVAEError(f"{run.path}: not a run folder (no config.yaml)")
    cfg = load_recipe(run.config)
    vocab = Vocab.load(run.vocab)
    _, splits = load_splits(cfg.data, vocab, splits=("train", "valid"), log=log)
    trainer = _trainer(cfg, vocab, splits, run, device, log)
    trainer.resume()
    return trainer


def _trainer(cfg: Recipe, vocab: Vocab, splits: dict, run: Run, device: str | None,
             log: Callable[[str], None]) -> Trainer:
    if device:
        cfg.train.device = device
    dev = resolve_device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, len(vocab))
    return Trainer(cfg, model, vocab, splits, run, dev, log=log)
