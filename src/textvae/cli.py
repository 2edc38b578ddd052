"""The `textvae` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import torch
import typer

from textvae.atomic import write_json_atomic, write_text_atomic
from textvae.config import load_recipe, recipe_to_yaml
from textvae.errors import TextVAEError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Variational autoencoders of sentences.")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _final_report(run_path: Path, split_name: str, iw_samples: int | None, device: str | None,
                  as_json: bool, show_samples: bool) -> dict:
    from textvae.evaluation.evaluate import evaluate
    from textvae.pipeline import load_run, load_splits
    from textvae.report import format_metrics, samples_text

    recipe, vocab, model = load_run(run_path, device)
    dev = str(next(model.parameters()).device)
    _, splits = load_splits(recipe.data, vocab, splits=(split_name,))
    metrics = evaluate(model, splits[split_name], recipe.eval, recipe.data.eval_batch_size, dev, iw_samples)
    metrics["run"] = str(run_path)
    write_json_atomic(run_path / f"eval_{split_name}.json", metrics)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        typer.echo(format_metrics(metrics))
        if show_samples:
            typer.echo(samples_text(model, vocab, splits[split_name], recipe.eval.n_samples,
                                    recipe.data.tokenizer, recipe.eval.seed, dev))
    return metrics


@app.command()
def train(
    recipe: Optional[Path] = typer.Argument(None, help="Recipe YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<recipe name>)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Resume the run in this folder."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe value, e.g. train.epochs=3."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, cuda:N (overrides the recipe)."),
    iw_samples: Optional[int] = typer.Option(None, help="K for the final test nll_iw (default: recipe)."),
) -> None:
    """Train a model; write config, vocabulary, checkpoints, metrics log and final test report to the run."""
    from textvae.data.vocab import Vocab
    from textvae.models.build import build_model
    from textvae.pipeline import Run, load_splits, resolve_device
    from textvae.training.trainer import Trainer, seed_everything

    try:
        if resume is not None and (recipe is not None or set_):
            raise TextVAEError("--resume continues a run with its own config.yaml: give no RECIPE and no --set")
        if resume is not None:
            run = Run(resume)
            if not run.config.is_file():
                raise TextVAEError(f"{resume}: not a run folder (no config.yaml)")
            cfg = load_recipe(run.config)
            vocab = Vocab.load(run.vocab)
            _, splits = load_splits(cfg.data, vocab, splits=("train", "valid"))
        else:
            if recipe is None:
                raise TextVAEError("give a RECIPE file or --resume RUN")
            cfg = load_recipe(recipe, set_)
            run = Run(out or Path("runs") / cfg.name)
            if run.checkpoint.exists() or run.config.exists():
                raise TextVAEError(f"{run.path}: run folder already holds a run; use --resume {run.path} or --out")
            vocab, splits = load_splits(cfg.data, splits=("train", "valid"))
            run.path.mkdir(parents=True, exist_ok=True)
            vocab.save(run.vocab)
            write_text_atomic(run.config, recipe_to_yaml(cfg))  # written last: it marks a complete run folder
        if device:
            cfg.train.device = device
        dev = resolve_device(cfg.train.device)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        seed_everything(cfg.train.seed)
        model = build_model(cfg.model, len(vocab))
        trainer = Trainer(cfg, model, vocab, splits, run, dev)
        if resume is not None:
            trainer.resume()
        typer.echo(f"{run.path}: {cfg.model.type} with {model.n_params:,} parameters, "
                   f"vocabulary {len(vocab)}, {len(splits['train'])} training sentences, device {dev}")
        trainer.fit()
        report = _final_report(run.path, "test", iw_samples, device, False, True)
        st = trainer.state
        report.update(steps=st["step"], epochs=st["epoch"], train_seconds=st["train_seconds"],
                      train_tokens=st["train_tokens"], tokens_per_s=st["train_tokens"] / max(st["train_seconds"], 1e-9))
        write_json_atomic(run.report, report)
    except TextVAEError as exc:
        _fail(str(exc))


@app.command("evaluate")
def evaluate_cmd(
    run: Path = typer.Argument(..., help="Run folder."),
    split: str = typer.Option("test", help="train, valid or test."),
    iw_samples: Optional[int] = typer.Option(None, help="K importance samples for nll_iw (default: recipe, 500)."),
    device: Optional[str] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print and save (RUN/eval_SPLIT.json) the full metric set of a run's best model on a split."""
    if split not in ("train", "valid", "test"):
        _fail(f"--split: must be train, valid or test, got '{split}'")
    try:
        _final_report(run, split, iw_samples, device, as_json, False)
    except TextVAEError as exc:
        _fail(str(exc))


@app.command()
def plot(run: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Plot a run's training log to RUN/plots/training.png (losses, KL share, mi and au, distribution of mu)."""
    from textvae.plots import plot_run

    try:
        typer.echo(f"wrote {plot_run(run)}")
    except TextVAEError as exc:
        _fail(str(exc))


from textvae import cli_latent  # noqa: E402,F401  (registers sample, reconstruct, interpolate, ...)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted; resume with `textvae train --resume RUN`", err=True)
        sys.exit(130)


if __name__ == "__main__":  # python -m textvae.cli: run the imported module, on whose app every command is registered
    from textvae.cli import main as registered_main

    registered_main()
