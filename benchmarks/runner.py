"""How the benchmarks drive textvae: its command line in a subprocess, and runs trained to their end across
interruptions (a benchmark stopped midway picks each run up where it stopped)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, progress: bool = False) -> str:
    """Run ``textvae ARGS`` (``python -m textvae.cli``) in the checkout, announced on stderr; returns its stdout.

    With ``progress`` its stderr (progress, ETA) passes through; without, it is kept and, if the command fails,
    its last 20 lines are printed before ``subprocess.CalledProcessError`` is raised."""
    print("+ textvae " + " ".join(args), file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "textvae.cli", *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE)
    if done.returncode and not progress:
        sys.stderr.write("".join(done.stderr.splitlines(keepends=True)[-20:]))
    done.check_returncode()
    return done.stdout


def train_args(run: Path, recipe: str | Path, sets: Sequence[str] = (), extra: Sequence[str] = ()) -> list[str]:
    """The arguments that start ``recipe`` in ``run``: ``train RECIPE --out RUN EXTRA --set S ...``."""
    return ["train", str(recipe), "--out", str(run), *extra, *[x for s in sets for x in ("--set", s)]]


def train_or_resume(run: Path, recipe: str | Path, sets: Sequence[str] = (), extra: Sequence[str] = (),
                    progress: bool = False) -> list[str]:
    """Train ``recipe`` in the folder ``run`` to its end: nothing when ``run/report.json`` is there, else
    ``train --resume RUN EXTRA`` when it has a checkpoint (the run keeps the recipe saved in it, so ``sets`` do
    not apply), else the command of ``train_args``. Returns that command's arguments (what the run started as)."""
    start = train_args(run, recipe, sets, extra)
    if not (run / "report.json").is_file():
        cli(*(["train", "--resume", str(run), *extra] if (run / "checkpoint.pt").is_file() else start),
            progress=progress)
    return start
