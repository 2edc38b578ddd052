"""AutoGen (a stochastic autoencoder tied to a VAE: the (1+m) objective): three claims on PTB.

1. Fig. 2 (left): the KL term's share of the objective is larger for AutoGen (m = 1) than for the VAE, with
   and without annealing.
2. Table 1: AutoGen reconstructs its inputs better than the VAE (lower rec, higher reconstruction BLEU).
3. Fig. 2 (right): AutoGen's (m = 1) ELBO tracks the VAE's, while with m = 2 the ELBO degrades as training
   goes on.
"""

from __future__ import annotations

import math
from pathlib import Path

from textvae.reproduce.artifacts import Analysis, Artifacts
from textvae.reproduce.papers import Findings, Paper
from textvae.reproduce.papers.common import WORD_SMALL, sigmoid_annealing, steps
from textvae.reproduce.runs import RunSpec
from textvae.reproduce.verdicts import judge

NAME = "autogen"
ROWS = {"vae": "ptb_vae", "vae_annealing": "ptb_vae_annealing", "autogen_m1": "ptb_autogen_m1",
        "autogen_m2": "ptb_autogen_m2"}
SMALL = (*WORD_SMALL, *steps(), "model.latent_dim=32")


def runs(scale: str) -> list[RunSpec]:
    out = []
    for name, recipe in ROWS.items():
        sets = () if scale == "full" else (*SMALL, *(sigmoid_annealing(1000) if name == "vae_annealing" else ()))
        out.append(RunSpec(name, f"autogen/{recipe}", sets))
    return out


def analyses(scale: str) -> list[Analysis]:
    return []


def share(a: Artifacts, run: str, last: int = 5) -> float | None:
    """The KL term's share of the objective at the end of training: the mean over the last ``last`` logged
    training windows (None: nothing logged)."""
    rows = [r for r in a.metrics(run, "train") if r.get("kl_share") is not None][-last:]
    return math.fsum(r["kl_share"] for r in rows) / len(rows) if rows else None


def drift(a: Artifacts, run: str, window: int = 3) -> float | None:
    """How far a run's training neg_elbo ends above its best (relative): the mean of its last ``window`` logs
    against the lowest mean of ``window`` consecutive logs (None: fewer than ``window`` logs)."""
    vals = [r["neg_elbo"] for r in a.metrics(run, "train")]
    means = [math.fsum(vals[i:i + window]) / window for i in range(len(vals) - window + 1)]
    return means[-1] / min(means) - 1.0 if means else None


def _all(*xs) -> bool:
    return all(x is not None for x in xs)


def judge_all(a: Artifacts) -> Findings:
    from textvae.reproduce.report import table

    rep = {n: a.report(n) for n in ROWS}
    sh = {n: share(a, n) for n in ROWS}
    bleu = {n: rep[n]["reconstruction_bleu"]["bleu"] for n in ROWS}
    dr = {n: drift(a, n) for n in ROWS}
    base = {"vae_annealing": rep["vae_annealing"]}
    claims = [
        judge(NAME, "Fig. 2 (left): at the end of training the KL term is a larger share of the objective for "
                    "AutoGen (m = 1) than for the VAE with annealing",
              sh["autogen_m1"] > sh["vae_annealing"] if _all(*sh.values()) else None, {"kl_share": sh}, baselines=base),
        judge(NAME, "Table 1: AutoGen (m = 1) reconstructs better than the VAE with annealing: lower rec and "
                    "higher reconstruction BLEU on the test set",
              rep["autogen_m1"]["rec"] < rep["vae_annealing"]["rec"] and bleu["autogen_m1"] > bleu["vae_annealing"],
              {"rec": {n: rep[n]["rec"] for n in ROWS}, "bleu": bleu}, baselines=base),
        judge(NAME, "Fig. 2 (right): with m = 2 the ELBO degrades as training goes on (training neg_elbo ends "
                    "1% or more above its best) while with m = 1 it does not (within 1%)",
              dr["autogen_m2"] >= 0.01 and dr["autogen_m1"] < 0.01 if _all(*dr.values()) else None,
              {"neg_elbo_drift": dr, "neg_elbo": {n: rep[n]["neg_elbo"] for n in ROWS}},
              baselines={"autogen_m1": rep["autogen_m1"]})]
    sections = ["## Test figures (nats per sentence) and the KL share at the end of training\n\n" + table(
        ["model", "neg_elbo", "rec", "KL", "reconstruction BLEU", "KL share", "neg_elbo drift"],
        [[n, rep[n]["neg_elbo"], rep[n]["rec"], rep[n]["kl"], bleu[n], sh[n], dr[n]] for n in ROWS])]
    return Findings(claims, sections, {"kl_share": sh, "bleu": bleu, "drift": dr})


def plot(a: Artifacts, path: Path) -> bool:
    from textvae.reproduce.report import label, panels

    with panels(path) as ax:
        for n in ROWS:
            rows = a.metrics(n, "train")
            ax[0].plot([r["step"] for r in rows], [100 * r["kl_share"] for r in rows], label=n)
            ax[1].plot([r["step"] for r in rows], [-r["neg_elbo"] for r in rows], label=n)
        label(ax[0], "step", "KL share of the objective (%)", "Fig. 2 (left)", legend=7)
        label(ax[1], "step", "training ELBO (nats)", "Fig. 2 (right)", legend=7)
    return True


PAPER = Paper(NAME, "AutoGen: tying a stochastic autoencoder to a VAE", runs, analyses, judge_all, plot,
              small_note="Small scale: PTB, embeddings and LSTMs of 128 units, z of 32, 1,500 steps of 64 "
                         "sentences a run, word keep rate 0.75 as the recipes (the paper: 500 units, z of 50, 1M "
                         "iterations of 200).")
