"""Starting and resuming a training run: the run folder, the data, the model and its Trainer."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from textvae.atomic import remove_stale_temps, write_text_atomic
from textvae.config import Recipe, fixed_length, load_recipe, recipe_to_yaml
from textvae.config.sections import InputConfig
from textvae.data.corpus import input_style
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


def _check_out(run: Run) -> None:
    """A new run's folder must not exist, or be an empty folder."""
    path = run.path
    if path.exists() and not path.is_dir():
        raise TextVAEError(f"--out {path}: is a file, not a folder")
    if run.checkpoint.exists() or run.config.exists():
        raise TextVAEError(f"{path}: run folder already holds a run; use --resume {path} or --out")
    if path.is_dir() and any(path.iterdir()):
        raise TextVAEError(f"--out {path}: folder is not empty and holds no run; give a new or empty folder")


def _remove_stale_staging(path: Path) -> None:
    """Delete staging folders of starts of ``path`` whose process is gone (a start killed before its rename)."""
    for stale in path.parent.glob(f".{path.name}.starting-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_run(recipe: str | Path, overrides: list[str] | None = None, out: str | Path | None = None,
              device: str | None = None, log: Callable[[str], None] = print) -> Trainer:
    """A Trainer for a new run of the recipe file (with ``--set`` style ``overrides``) in ``out`` (default:
    runs/<recipe name>).

    The run folder is built in a hidden sibling (``.NAME.starting-PID``): vocabulary, config.yaml, the model,
    the optimiser and the first checkpoint, then renamed into place. So a start that fails or is killed leaves
    no folder that blocks running the same command again: either no run folder, or one that resumes."""
    check_single_process()
    cfg = load_recipe(recipe, overrides)
    if device:
        cfg.train.device = device
    resolve_device(cfg.train.device)  # a device that is not here fails before any work
    cfg.data.input = InputConfig(**dataclasses.asdict(input_style(cfg.data)))  # recorded: how typed text is read
    run = Run(Path(out) if out is not None else Path("runs") / cfg.name)
    _check_out(run)
    vocab, splits = load_splits(cfg.data, splits=("train", "valid"), log=log, length=fixed_length(cfg.model))
    try:
        run.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(run.path)
        staging = Run(run.path.parent / f".{run.path.name}.starting-{os.getpid()}")
        staging.path.mkdir()
    except OSError as exc:
        raise TextVAEError(f"--out {run.path}: cannot create the run folder ({exc.strerror or exc})") from None
    try:
        vocab.save(staging.vocab)
        write_text_atomic(staging.config, recipe_to_yaml(cfg))
        trainer = _trainer(cfg, vocab, splits, staging, log)
        trainer.save()
        if run.path.is_dir():
            run.path.rmdir()  # empty (checked above): the staged folder takes its place
        os.rename(staging.path, run.path)
    except BaseException:
        shutil.rmtree(staging.path, ignore_errors=True)
        raise
    trainer.run = run
    return trainer


def resume_run(path: str | Path, device: str | None = None, log: Callable[[str], None] = print) -> Trainer:
    """A Trainer that continues the run in ``path`` exactly where its last checkpoint left it, under the run's
    own config.yaml. Temporary files of writes cut short by a kill are removed; a run folder without a checkpoint
    (a start killed by textvae 0.1) starts from step 0, as an uninterrupted run would have."""
    check_single_process()
    run = Run(Path(path))
    if not run.config.is_file():
        raise TextVAEError(f"{run.path}: not a run folder (no config.yaml)")
    cfg = load_recipe(run.config)
    if device:
        cfg.train.device = device
    resolve_device(cfg.train.device)
    remove_stale_temps(run.path)
    vocab = Vocab.load(run.vocab)
    _, splits = load_splits(cfg.data, vocab, splits=("train", "valid"), log=log,
                            length=fixed_length(cfg.model))
    trainer = _trainer(cfg, vocab, splits, run, log)
    if run.checkpoint.is_file():
        trainer.resume()
    else:
        run.metrics.unlink(missing_ok=True)
        log(f"{run.path}: no checkpoint yet: training from step 0")
    return trainer


def _trainer(cfg: Recipe, vocab: Vocab, splits: dict, run: Run, log: Callable[[str], None]) -> Trainer:
    dev = resolve_device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, len(vocab))
    return Trainer(cfg, model, vocab, splits, run, dev, log=log)
