"""One verdict per paper claim, computed by code, never judged against a collapsed model.

A claim compares our models the way the paper compares its own. Before its comparison is read, each model it is
judged against (its *baselines*) is checked: a latent-variable model whose test KL is under
:data:`COLLAPSE_NATS` nats a sentence (word level) or :data:`COLLAPSE_BPC` bits a character (character level)
has collapsed into a language model, and a comparison with it says nothing about the paper's effect: the claim
is then "not measurable" at this scale, with the reason. Claims that follow from an objective's construction
(mu-Forcing's margin forces KL >= spread >= beta) are recorded as "implied by construction" and not counted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_MEASURABLE = "not measurable"
IMPLIED = "implied by construction"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_MEASURABLE, IMPLIED)
MEASURED = (REPRODUCED, NOT_REPRODUCED)

COLLAPSE_NATS = 0.1
"""Word level: a test KL under 0.1 nats a sentence is a collapsed posterior."""
COLLAPSE_BPC = 0.01
"""Character level: a test KL under 0.01 bits a character is a collapsed posterior."""


def kl_level(report: dict) -> tuple[float, str]:
    """A run's test KL in the unit its collapse is judged in: (bits per character, "bpc") for a character run
    (its report has ``kl_bpc``), else (nats per sentence, "nats")."""
    if report.get("kl_bpc") is not None:
        return float(report["kl_bpc"]), "bpc"
    return float(report.get("kl") or 0.0), "nats"


def collapsed(report: dict) -> bool:
    """Whether a latent-variable run's test KL is below the collapse line of its unit (a language model, which
    has no KL, is never called collapsed: it has no posterior to collapse)."""
    if report.get("kl") is None and report.get("kl_bpc") is None:
        return False
    kl, unit = kl_level(report)
    return not math.isfinite(kl) or kl < (COLLAPSE_BPC if unit == "bpc" else COLLAPSE_NATS)


def describe_kl(report: dict) -> str:
    kl, unit = kl_level(report)
    return f"KL {kl:.3g} {'bits/char' if unit == 'bpc' else 'nats'}"


def gap_z(p1: float, n1: int, p2: float, n2: int) -> float:
    """The z score of the difference ``p1 - p2`` of two proportions measured on ``n1`` and ``n2`` items (unpooled
    standard error); 0.0 when the error is 0 and the proportions equal, +-inf when it is 0 and they differ."""
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if se == 0:
        return 0.0 if p1 == p2 else math.copysign(math.inf, p1 - p2)
    return (p1 - p2) / se


def one_sided_p(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


@dataclass
class Claim:
    """One claim of a paper and what our runs say of it. ``figures``: the numbers the verdict read (ours, and
    the paper's where it gives them); ``why``: the reason behind a verdict other than reproduced."""

    paper: str
    claim: str
    verdict: str
    figures: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    scale: str = ""
    baselines: dict[str, dict] = field(default_factory=dict)
    """The models the claim was judged against: name -> {kl, unit, collapsed}."""

    def to_dict(self) -> dict:
        return asdict(self)


def judge(paper: str, claim: str, holds: bool | None, figures: dict, baselines: dict[str, dict] | None = None,
          implied: str = "", unmeasurable: str = "") -> Claim:
    """The verdict of ``claim``: implied by construction when ``implied`` says why; not measurable when a model
    in ``baselines`` (name -> its test report) collapsed or ``unmeasurable`` gives another reason (or ``holds``
    is None: the comparison could not be made); else reproduced or not as ``holds`` says."""
    base = {name: dict(zip(("kl", "unit"), kl_level(r), strict=True), collapsed=collapsed(r))
            for name, r in (baselines or {}).items()}
    if implied:
        return Claim(paper, claim, IMPLIED, figures, implied, baselines=base)
    down = [f"{name} collapsed ({describe_kl(r)})" for name, r in (baselines or {}).items() if collapsed(r)]
    if down:
        return Claim(paper, claim, NOT_MEASURABLE, figures, "the comparison model " + "; ".join(down), baselines=base)
    if unmeasurable or holds is None:
        return Claim(paper, claim, NOT_MEASURABLE, figures, unmeasurable or "no comparison could be made",
                     baselines=base)
    return Claim(paper, claim, REPRODUCED if holds else NOT_REPRODUCED, figures, baselines=base)
