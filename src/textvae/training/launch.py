"""Starting and resuming a training run: the run folder, the data, the model and its Trainer."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from textvae import distributed as dist
from textvae.atomic import remove_stale_temps, write_text_atomic
from textvae.config import Recipe, fixed_length, load_recipe, recipe_to_yaml
from textvae.config.sections import InputConfig
from textvae.data.corpus import input_style
from textvae.data.vocab import Vocab
from textvae.errors import BadValue, TextVAEError
from textvae.models.build import build_model
from textvae.models.weights import load_weights
from textvae.pipeline import load_splits, resolve_device
from textvae.run import Run
from textvae.training.trainer import Trainer, seed_everything


def _device(cfg: Recipe, device: str | None) -> str:
    """This rank's device: the recipe's (or ``device``), checked; under torchrun the process group is joined and
    a CUDA device becomes ``cuda:LOCAL_RANK`` (:func:`textvae.distributed.setup`)."""
    if device:
        cfg.train.device = device
    return dist.setup(resolve_device(cfg.train.device))


def _on_main(fn: Callable[[], object]):
    """Run ``fn`` on the main rank only; its TextVAEError is raised on every rank (no rank left waiting)."""
    error, value = None, None
    if dist.ctx.main:
        try:
            value = fn()
        except TextVAEError as exc:
            error = exc
    error = dist.broadcast(error)
    if error is not None:
        raise error
    return dist.broadcast(value)


def _check_out(run: Run) -> None:
    """A new run's folder must not exist, or be an empty folder."""
    path = run.path
    if path.exists() and not path.is_dir():
        raise BadValue("out", "is a file, not a folder", path)
    if run.checkpoint.exists() or run.config.exists():
        raise BadValue("out", f"run folder already holds a run; resume it (textvae train --resume {path}) or "
                       f"give another folder", path)
    if path.is_dir() and any(path.iterdir()):
        raise BadValue("out", "folder is not empty and holds no run; give a new or empty folder", path)


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
    cfg = load_recipe(recipe, overrides, log=log if dist.ctx.main else None)
    dev = _device(cfg, device)  # a device that is not here fails before any work
    _record_input(cfg)
    run = Run(Path(out) if out is not None else Path("runs") / cfg.name)
    _on_main(lambda: _check_out(run))
    init_from = str(pretrain(cfg, run, device, log)) if cfg.train.pretrain else cfg.train.init_from
    vocab, splits = load_splits(cfg.data, splits=("train", "valid"), log=log if dist.ctx.main else _quiet,
                                length=fixed_length(cfg.model))
    staging = Run(Path(_on_main(lambda: _staging(run))))
    try:
        if dist.ctx.main:
            vocab.save(staging.vocab)
            write_text_atomic(staging.config, recipe_to_yaml(cfg))
        trainer = _trainer(cfg, vocab, splits, staging, log, dev, init_from=init_from)
        trainer.decide_precision()  # train.bf16 true where bf16 cannot run fails here, leaving no folder
        trainer.save()
        if dist.ctx.main:
            if run.path.is_dir():
                run.path.rmdir()  # empty (checked above): the staged folder takes its place
            os.rename(staging.path, run.path)
        dist.barrier()
    except BaseException:
        if dist.ctx.main:
            shutil.rmtree(staging.path, ignore_errors=True)
        raise
    trainer.run = run
    return trainer


def _record_input(cfg: Recipe) -> Recipe:
    """``cfg`` with ``data.input`` set to how its corpus reads typed text (recorded in the run's config.yaml)."""
    cfg.data.input = InputConfig(**dataclasses.asdict(input_style(cfg.data)))
    return cfg


def _staging(run: Run) -> str:
    """A hidden sibling of the run folder to build the run in (``.NAME.starting-PID``)."""
    try:
        run.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(run.path)
        staging = run.path.parent / f".{run.path.name}.starting-{os.getpid()}"
        staging.mkdir()
    except OSError as exc:
        raise BadValue("out", f"cannot create the run folder ({exc.strerror or exc})", run.path) from None
    return str(staging)


def _quiet(*args, **kwargs) -> None:
    """The log of a rank that is not the main one."""


def resume_run(path: str | Path, device: str | None = None, log: Callable[[str], None] = print) -> Trainer:
    """A Trainer that continues the run in ``path`` exactly where its last checkpoint left it, under the run's
    own config.yaml. Temporary files of writes cut short by a kill are removed; a run folder without a checkpoint
    (a start killed by textvae 0.1) starts from step 0, as an uninterrupted run would have."""
    run = Run(Path(path))
    if not run.config.is_file():
        raise TextVAEError(f"{run.path}: not a run folder (no config.yaml)")
    cfg = load_recipe(run.config)
    dev = _device(cfg, device)
    if dist.ctx.main:
        remove_stale_temps(run.path)
    dist.barrier()
    vocab = Vocab.load(run.vocab)
    _, splits = load_splits(cfg.data, vocab, splits=("train", "valid"), log=log if dist.ctx.main else _quiet,
                            length=fixed_length(cfg.model))
    trainer = _trainer(cfg, vocab, splits, run, log, dev)
    if run.checkpoint.is_file():
        trainer.resume()
    else:
        if dist.ctx.main:
            run.metrics.unlink(missing_ok=True)
        trainer.log(f"{run.path}: no checkpoint yet: training from step 0")
    dist.barrier()
    return trainer


def pretrain(cfg: Recipe, run: Run, device: str | None, log: Callable[[str], None]) -> Path:
    """Train ``cfg.train.pretrain`` (a recipe file) to its end in ``RUN-pretrain``, resuming a run of it found
    there, and return that folder (whose best weights start ``run``). Its data and model sections are checked
    against ``cfg``'s first, so that a mismatch fails before hours of pretraining, not after."""
    from textvae.training.trainer import TrainingInterrupted

    source = Path(cfg.train.pretrain)
    if not source.is_file():
        raise TextVAEError(f"train.pretrain: {source}: recipe file not found")
    pre = _record_input(load_recipe(source))  # as start_run records cfg's
    for section in ("data", "model"):
        if getattr(pre, section) != getattr(cfg, section):
            raise TextVAEError(f"train.pretrain: {source}: its {section} section differs from this recipe's (the "
                               f"pretrained weights must fit this run's model and vocabulary)")
    folder = run.path.with_name(run.path.name + "-pretrain")
    again = Run(folder).config.is_file()
    if dist.ctx.main:
        log(f"pretraining: {source} in {folder}" + (" (continued)" if again else ""))
    trainer = resume_run(folder, device, log) if again else start_run(source, out=folder, device=device, log=log)
    if not trainer.state.finished:
        if dist.ctx.main:
            log(trainer.describe())
        try:
            trainer.fit()
        except TrainingInterrupted as exc:
            exc.again = "run the same command again to continue the pretraining, then this run"
            raise
    dist.barrier()
    return folder


def _initialise(model: torch.nn.Module, init_from: str, reset: list[str], vocab: Vocab) -> str:
    """Load ``init_from``'s best weights into ``model`` but for the ``reset`` parts, which keep their fresh
    initialisation (Li et al. 2019's decoder reset); returns what was done, in words."""
    source = Path(init_from) / "best.safetensors"
    if not source.is_file():
        raise TextVAEError(f"train.init_from: {init_from} is not a run folder with best weights (no {source.name})")
    fresh = {k: v.clone() for k, v in model.state_dict().items() if k.split(".")[0] in reset}
    load_weights(source, model, vocab.fingerprint)
    model.load_state_dict(fresh, strict=False)
    return f"initialised from {source}" + (f", {' and '.join(reset)} reset" if reset else "")


def _trainer(cfg: Recipe, vocab: Vocab, splits: dict, run: Run, log: Callable[[str], None], dev: str,
             init_from: str = "") -> Trainer:
    """The Trainer of a run; ``init_from`` (a new run only: a resumed one has its weights in the checkpoint): the
    run folder whose best weights start it."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    elif dist.ctx.distributed and dev == "cpu":  # ranks on one machine share its cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", dist.ctx.world))))
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, len(vocab))
    if init_from:
        said = _initialise(model, init_from, cfg.train.reset, vocab)
        if dist.ctx.main:
            log(said)
    if dist.ctx.rank > 0:  # the same initial model everywhere; each rank its own stream of noise and dropout
        seed_everything(cfg.train.seed + 1_000_003 * dist.ctx.rank)
    return Trainer(cfg, model, vocab, splits, run, dev, log=log if dist.ctx.main else _quiet)
