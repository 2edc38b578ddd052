"""The papers a reproduction covers, by name: each module states its runs at each scale, the analyses that need
their weights, and its claims judged from the artifacts."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textvae.reproduce.artifacts import Analysis, Artifacts
from textvae.reproduce.runs import RunSpec
from textvae.reproduce.verdicts import Claim

SCALES = ("small", "full")


@dataclass
class Findings:
    """What a paper's judge returns: its claims, the markdown sections of its report (tables of the paper's
    figures beside ours), the figures for the JSON, and what a scale leaves out."""

    claims: list[Claim]
    sections: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Paper:
    name: str
    title: str
    runs: Callable[[str], list[RunSpec]]
    analyses: Callable[[str], list[Analysis]]
    judge: Callable[[Artifacts], Findings]
    plot: Callable[[Artifacts, Path], bool] | None = None
    small_note: str = ""


PAPER_MODULES = ("bowman2016", "semeniuta2017", "autr", "autogen", "liu2019")


def paper(name: str) -> Paper:
    """The paper of that name (one of :data:`PAPER_MODULES`)."""
    if name not in PAPER_MODULES:
        from textvae.errors import TextVAEError

        raise TextVAEError(f"PAPER: {name!r} is not one of {', '.join(PAPER_MODULES)} or all")
    return importlib.import_module(f"textvae.reproduce.papers.{name}").PAPER
