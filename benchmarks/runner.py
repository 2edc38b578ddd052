"""How the benchmarks drive textvae: its command line in a subprocess, and runs trained to their end across
interruptions (a benchmark stopped midway picks each run up where it stopped). The logic is the library's
(``textvae.reproduce.runs``, which ``textvae reproduce`` uses too); here it runs in the checkout's root, so
that recipe paths like ``recipes/quick.yaml`` resolve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textvae.reproduce import runs as _runs
from textvae.reproduce.runs import train_args

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["ROOT", "cli", "train_args", "train_or_resume"]


def cli(*args: str, progress: bool = False) -> str:
    """``textvae ARGS`` in the checkout (see ``textvae.reproduce.runs.cli``); returns its stdout."""
    return _runs.cli(*args, progress=progress, cwd=ROOT)


def train_or_resume(run: Path, recipe: str | Path, sets: Sequence[str] = (), extra: Sequence[str] = (),
                    progress: bool = False) -> list[str]:
    """Train ``recipe`` in ``run`` to its end, in the checkout (see ``textvae.reproduce.runs.train_or_resume``)."""
    return _runs.train_or_resume(run, recipe, sets, extra, progress=progress, cwd=ROOT)
