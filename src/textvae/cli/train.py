"""`textvae train | evaluate | plot`: training a run, its metrics on a split, and its curves."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Optional

import typer

from textvae.atomic import to_json, write_json_atomic
from textvae.cli.app import AS_JSON, DEVICE, SPLIT, command, emit
from textvae.cli.format import format_compare, format_csv, format_metrics, format_showcase
from textvae.errors import TextVAEError


def check_iw_samples(k: int | None) -> None:
    if k is not None and k < 0:
        raise TextVAEError(f"--iw-samples: must be >= 0 (0: no nll_iw), got {k}")


def _announce(s, split: str, iw_samples: int | None, final: bool) -> None:
    """Say what the evaluation about to start will do, how long it will take, and how to change K."""
    from textvae.progress import clock
    from textvae.session import evaluation_plan

    p = evaluation_plan(s, split, iw_samples)
    what = f"nll_iw with K={p['iw_samples']}" if p["iw_samples"] else "no nll_iw"
    how = ""
    if final and p["iw_samples"] != 500:
        how = (f" (eval.final_iw_samples, or train --iw-samples; the protocol's K=500 later: "
               f"`textvae evaluate {s.run_path} --iw-samples 500`)")
    typer.echo(f"evaluating the {split} split: {p['sentences']:,} sentences, {p['tokens']:,} tokens, {what}{how}: "
               f"about {clock(p['seconds'])}", err=True)


def _evaluate(run: Path, split: str, iw_samples: int | None, device: str | None,
              bf16: bool | str | None = None, final: bool = False) -> tuple[object, dict]:
    """The session of a run and its metrics on ``split``, saved to RUN/eval_SPLIT.json; the main rank first says
    what it will do and about how long it will take. ``final``: the evaluation that ends ``textvae train``, whose
    K defaults to ``eval.final_iw_samples``."""
    from textvae import distributed as dist
    from textvae.session import evaluate_split, final_iw_samples, open_run

    s = open_run(run, device)
    if final and iw_samples is None:
        iw_samples = final_iw_samples(s)
    if dist.ctx.main:
        _announce(s, split, iw_samples, final)
    # under torchrun: every rank its share, the main rank writes; cut short, the same command resumes
    try:
        metrics = evaluate_split(s, split, iw_samples, bf16, resumable=True)
    except KeyboardInterrupt:
        again = (f"`textvae train --resume {run}` evaluates again from there" if final else
                 "run the same command to go on from there")
        typer.echo(f"interrupted: the batches evaluated so far are kept in {run / f'eval_{split}.ledger'}; {again}",
                   err=True)
        raise typer.Exit(130) from None
    if dist.ctx.main:
        write_json_atomic(run / f"eval_{split}.json", metrics)
    return s, metrics


@command()
def train(
    recipe: Optional[Path] = typer.Argument(None, help="Recipe YAML file, or the name of a bundled recipe "
                                            "(`textvae recipes` lists them), e.g. quick."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<recipe name>)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Resume the run in this folder."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe value, e.g. train.epochs=3."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, cuda:N (overrides the recipe)."),
    iw_samples: Optional[int] = typer.Option(None, help="K for the test nll_iw after training (default: the recipe's "
                                             "eval.final_iw_samples, 50; 0: none)."),
) -> None:
    """Train a model; write config, vocabulary, checkpoints, metrics log and final test report to the run."""
    from textvae.session import showcase
    from textvae.training.launch import resume_run, start_run
    from textvae.training.trainer import TrainingInterrupted

    if resume is not None and (recipe is not None or set_):
        raise TextVAEError("--resume continues a run with its own config.yaml: give no RECIPE and no --set")
    if resume is None and recipe is None:
        raise TextVAEError("give a RECIPE file or --resume RUN")
    check_iw_samples(iw_samples)
    from textvae import distributed as dist

    try:
        try:  # a recipe with train.pretrain trains its pretraining run first, inside start_run
            trainer = resume_run(resume, device) if resume is not None else start_run(recipe, set_, out, device)
            if trainer.state.finished and trainer.run.report.is_file():  # nothing left to do: say what it got
                if dist.ctx.main:
                    typer.echo(format_metrics(json.loads(trainer.run.report.read_text())))
                    typer.echo(f"(its report.json; `textvae evaluate {trainer.run.path}` evaluates it again)")
                return
            if dist.ctx.main:
                typer.echo(trainer.describe())
            trainer.fit()
        except TrainingInterrupted as exc:
            if dist.ctx.main:
                again = exc.again or (f"resume with `textvae train --resume {exc.run.path}` (under torchrun: the same "
                                      f"launch with --resume)")
                typer.echo(f"interrupted ({signal.Signals(exc.signum).name}) at step {exc.step}: checkpoint written; "
                           f"{again}", err=True)
            raise typer.Exit(128 + exc.signum) from None
        dist.barrier()  # the main rank has written the best weights
        # the final test evaluation: every rank its share of the batches; the showcase and report: the main rank's
        s, report = _evaluate(trainer.run.path, "test", iw_samples, trainer.device, final=True)
    finally:
        main = dist.ctx.main
        dist.teardown()
    if not main:
        return
    typer.echo(format_metrics(report))
    shown = showcase(s, "test", s.recipe.eval.n_samples, s.recipe.eval.seed)
    typer.echo(format_showcase(shown))
    if "bleu" in shown:
        report["reconstruction_bleu"] = shown["bleu"]
    report.update(trainer.summary())
    write_json_atomic(trainer.run.report, report)


@command()
def recipes(as_json: bool = AS_JSON) -> None:
    """List the recipes that ship with textvae: `textvae train NAME` trains one from any folder."""
    from textvae.config.bundled import bundled_recipes, recipe_root, recipe_summary

    found = {name: {"path": str(path), "summary": recipe_summary(path)} for name, path in bundled_recipes().items()}
    if not found:
        raise TextVAEError(f"no bundled recipes found under {recipe_root()} (set TEXTVAE_RECIPES to a folder of them)")
    width = max(map(len, found))
    lines = [f"{name:<{width}}  {r['summary']}".rstrip() for name, r in found.items()]
    emit(as_json, found, [*lines, f"({len(found)} recipes in {recipe_root()}; train one with `textvae train NAME`, "
                          f"copy one to start your own)"])


@command("evaluate")
def evaluate_cmd(
    run: Path = typer.Argument(..., help="Run folder."),
    split: str = SPLIT,
    iw_samples: Optional[int] = typer.Option(None, help="K importance samples for nll_iw (default: recipe, 500)."),
    bf16: Optional[str] = typer.Option(None, help="bf16 autocast for nll_iw: true, false or auto (probe speed and "
                                       "bias; default: the recipe's eval.bf16)."),
    device: Optional[str] = DEVICE,
    as_json: bool = AS_JSON,
) -> None:
    """Print and save (RUN/eval_SPLIT.json) the full metric set of a run's best model on a split."""
    if split not in ("train", "valid", "test"):
        raise TextVAEError(f"--split: must be train, valid or test, got '{split}'")
    check_iw_samples(iw_samples)
    choices = {"true": True, "false": False, "auto": "auto", None: None}
    if bf16 not in choices:
        raise TextVAEError(f"--bf16: must be true, false or auto, got '{bf16}'")
    _, metrics = _evaluate(run, split, iw_samples, device, choices[bf16])
    typer.echo(to_json(metrics, indent=2) if as_json else format_metrics(metrics))


@command()
def plot(run: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Plot a run's training log to RUN/plots/training.png (losses, KL share, mi and au, distribution of mu)."""
    from textvae.plots import plot_run

    typer.echo(f"wrote {plot_run(run)}")


@command()
def compare(
    runs: list[str] = typer.Argument(..., help="Run folders, folders of runs, or glob patterns."),
    as_json: bool = AS_JSON,
    csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    plot_: list[str] = typer.Option([], "--plot", help="Plot this figure across the runs (repeatable), e.g. nll_iw."),
    out: Path = typer.Option(Path("compare.png"), "--out", "-o", help="Where --plot writes its PNG."),
) -> None:
    """Several runs side by side: their test figures (nats per sentence; K beside nll_iw), model and corpus."""
    from textvae.session import compare as compare_runs

    result = compare_runs(runs)
    if plot_:
        from textvae.plots import plot_compare

        typer.echo(f"wrote {plot_compare(result, plot_, out)}", err=True)
    if as_json:
        typer.echo(to_json(result, indent=2))
    elif csv:
        typer.echo(format_csv(result), nl=False)
    else:
        typer.echo(format_compare(result))
