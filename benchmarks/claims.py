"""The benchmarks' paper claims, each with the verdict of ``textvae reproduce``'s one rule
(``textvae.reproduce.verdicts.judge``): a comparison with a collapsed model is "not measurable", a claim that
the objective implies is "implied by construction", neither counted as a reproduction. ``--recheck`` modes use
:func:`recheck` to judge the figures a benchmark's JSON already holds again, without retraining."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from textvae.atomic import write_json_atomic
from textvae.reproduce.verdicts import REPRODUCED, judge


class Claims(list):
    """A benchmark's list of checks: {claim, holds, verdict, why, figures, baselines}; ``holds`` is whether the
    comparison came out as the paper says, ``verdict`` what it is worth (see the module)."""

    def add(self, text: str, holds: bool | None, figures: dict, baselines: dict[str, dict] | None = None,
            implied: str = "", unmeasurable: str = "") -> None:
        c = judge("", text, holds, figures, baselines, implied, unmeasurable)
        self.append({"claim": text, "holds": bool(holds), "verdict": c.verdict, "why": c.why, "figures": figures,
                     "baselines": c.baselines})


def cell(c: dict) -> str:
    """A check's verdict for a markdown table, with its reason unless it reproduced."""
    v = c["verdict"]
    return v if v == REPRODUCED else f"**{v}**" + (f" ({c['why']})" if c.get("why") else "")


def say(checks: list[dict]) -> None:
    for c in checks:
        print(f"{c['verdict'].upper():>24}  {c['claim']}", file=sys.stderr)


def recheck(path: Path, checks: Callable[[dict], list[dict]], render: Callable[[dict], None] | None = None) -> dict:
    """Judge the claims of the benchmark JSON at ``path`` again from the figures it holds (no training), write it
    back, and ``render`` its other outputs (markdown, plots) from it."""
    res = json.loads(path.read_text())
    res["checks"] = checks(res)
    write_json_atomic(path, res)
    if render is not None:
        render(res)
    say(res["checks"])
    return res
