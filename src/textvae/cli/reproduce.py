"""`textvae reproduce`: the papers' claims, each with a verdict computed from runs trained for them."""

from __future__ import annotations

from pathlib import Path

import typer

from textvae.cli.app import AS_JSON, command, emit


@command()
def reproduce(paper: str = typer.Argument("all", help="bowman2016, semeniuta2017, autr, autogen, liu2019 or all."),
              scale: str = typer.Option("small", help="small (this kind of CPU, stated time per paper) or full "
                                                      "(the papers' sizes, for a GPU)."),
              runs: Path = typer.Option(Path("runs/reproduce"), help="Work folder of the runs (weights, "
                                                                      "checkpoints; an interrupted run resumes)."),
              reports: Path = typer.Option(Path("reports"), help="Where the reports and the committed run "
                                                                 "artifacts (reports/runs) live."),
              fresh: bool = typer.Option(False, "--fresh", help="Train every run again instead of reusing the "
                                                                "committed artifacts (runs in --runs resume)."),
              regenerate: bool = typer.Option(False, "--regenerate", help="Train nothing: write the reports "
                                                                          "from the committed artifacts alone."),
              parallel: int = typer.Option(1, help="Runs trained at a time (each gets cores / parallel threads)."),
              set_: list[str] = typer.Option([], "--set", help="Add an override to every run (after the "
                                                               "scale's), e.g. train.max_steps=50: other runs, "
                                                               "reported under REPORTS/custom-HASH/."),
              device: str = typer.Option(None, help="auto, cpu, cuda, cuda:N for every run (default: the "
                                                    "recipes')."),
              as_json: bool = AS_JSON) -> None:
    """Reproduce the papers' effects: train (or reuse) the runs each claim needs, judge every claim (reproduced,
    not reproduced, not measurable at this scale, implied by construction), write reports/PAPER.md and
    reports/summary.json."""
    from textvae.reproduce import reproduce as run
    from textvae.reproduce.report import counts_text

    try:
        summary = run(paper, scale, runs, reports, fresh=fresh, parallel=parallel, device=device,
                      regenerate=regenerate, sets=set_)
    except KeyboardInterrupt:
        typer.echo("interrupted: each run stopped at a checkpoint in --runs; the same `textvae reproduce` command "
                   "resumes them", err=True)
        raise typer.Exit(130) from None
    lines = [f"{c['paper']}: {c['verdict']}: {c['claim']}" for c in summary["claims"]]
    lines.append(f"{len(summary['claims'])} claims at {scale} scale: {counts_text(summary)} "
                 f"({summary['measured']} measured); "
                 f"reports in {reports}/")
    emit(as_json, summary, lines)
