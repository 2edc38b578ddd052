"""Liu et al. 2019, mu-Forcing: training VAE with RNN decoders (a margin on the spread of posterior means):
three measured claims and two that its objective implies.

1. Table 1 / Fig. 5: as beta grows the reconstruction error falls.
2. Table 1: mu-Forcing's prior samples are more diverse than VRAE + KLA's (lower Self-BLEU-4).
3. Table 2 (character level, Yelp): Hybrid + mu-Forcing reconstructs better (lower rec) than Hybrid + Aux.
Implied by construction, not counted: the KL grows with beta and exceeds VRAE + KLA's (the margin forces the
posterior means' spread, hence the KL, to at least about beta / 2 per dimension on average).
"""

from __future__ import annotations

from pathlib import Path

from textvae.reproduce.artifacts import Analysis, Artifacts
from textvae.reproduce.papers import Findings, Paper
from textvae.reproduce.papers.common import WORD_SMALL, generation, linear_annealing, steps
from textvae.reproduce.runs import RunSpec
from textvae.reproduce.verdicts import judge

NAME = "liu2019"
WORD = (*WORD_SMALL, *steps(), *linear_annealing(1000))
"""Small scale: PTB, a bidirectional encoder and a decoder of 128 units with layer norm, z of 16, KL annealed
over 1,000 steps (the paper: 1,024 units, over 10,000 steps)."""
CHAR = ("train.max_steps=1500", "train.epochs=100", "train.log_every=50", "train.checkpoint_every=250",
        "train.early_stop=0", "data.eval_batch_size=256", "eval.final_iw_samples=0",
        *linear_annealing(600), "model.encoder.channels=[64,128,128]", "model.encoder.embed_dim=32",
        "model.decoder.channels=[128,128,64,100]", "model.decoder.embed_dim=32", "model.decoder.hidden_dim=192",
        "data.batch_size=32")
"""Small scale, characters (Yelp): convolutions of 64-128 channels, a top of 192 units, 1,500 steps of 32."""
BETAS = ("1_5", "3_0")
PAPER_TABLE1 = {"vrae_kla": {"rec": 93.79, "kl": 1.64, "self_bleu4": 96.86},
                "mu_forcing_1_5": {"rec": 86.85, "kl": 12.73, "self_bleu4": 82.22},
                "mu_forcing_3_0": {"rec": 83.29, "kl": 25.15, "self_bleu4": 71.99}}
PAPER_TABLE2 = {"hybrid_aux": {"rec": 56.01}, "hybrid_mu_forcing": {"rec": 52.22}}
GENERATE = {"n": 1000, "refs": 1000}


def runs(scale: str) -> list[RunSpec]:
    full = scale == "full"
    out = [RunSpec("vrae_kla", "liu2019/ptb_vrae_kla", () if full else WORD)]
    out += [RunSpec(f"mu_forcing_{b}", f"liu2019/ptb_mu_forcing_{b}", () if full else WORD) for b in BETAS]
    out += [RunSpec(n, f"liu2019/yelp_char_{n}", () if full else CHAR) for n in ("hybrid_aux", "hybrid_mu_forcing")]
    return out


def samples(paths: dict[str, Path], device: str) -> dict:
    """BLEU-4 and Self-BLEU-4 of greedy decodes of prior samples for each word-level run."""
    return {n: generation(p, device, GENERATE["n"], GENERATE["refs"]) for n, p in paths.items()}


def analyses(scale: str) -> list[Analysis]:
    return [Analysis("samples", ("vrae_kla", *(f"mu_forcing_{b}" for b in BETAS)), samples)]


def judge_all(a: Artifacts) -> Findings:
    from textvae.reproduce.report import table

    words = ("vrae_kla", *(f"mu_forcing_{b}" for b in BETAS))
    rep = {n: a.report(n) for n in (*words, "hybrid_aux", "hybrid_mu_forcing")}
    gen = a.analysis("samples")
    lo, hi = (f"mu_forcing_{b}" for b in BETAS)
    rec = {n: rep[n]["rec"] for n in rep}
    kl = {n: rep[n]["kl"] for n in rep}
    sb = {n: gen[n]["self_bleu4"] for n in words}
    claims = [
        judge(NAME, "Table 1 / Fig. 5: the reconstruction error falls as beta grows (1.5 -> 3.0)",
              rec[hi] < rec[lo], {"rec": {n: rec[n] for n in words}, "paper": PAPER_TABLE1}),
        judge(NAME, "Table 1: the KL grows with beta and is above VRAE + KLA's", kl[hi] > kl[lo] > kl["vrae_kla"],
              {"kl": {n: kl[n] for n in words}},
              implied="the margin keeps the posterior means' spread, which the KL bounds from below, at beta"),
        judge(NAME, "Table 1: mu-Forcing's prior samples are more diverse than VRAE + KLA's (lower Self-BLEU-4 "
                    "at both betas)",
              all(sb[n] < sb["vrae_kla"] for n in (lo, hi)),
              {"self_bleu4": sb, "bleu4": {n: gen[n]["bleu4"] for n in words}, "paper": PAPER_TABLE1},
              baselines={"vrae_kla": rep["vrae_kla"]}),
        judge(NAME, "Table 2 (Yelp characters): Hybrid + mu-Forcing has a lower rec than Hybrid + Aux "
                    "(paper: 52.22 against 56.01)",
              rec["hybrid_mu_forcing"] < rec["hybrid_aux"],
              {"rec": {n: rec[n] for n in ("hybrid_aux", "hybrid_mu_forcing")},
               "kl": {n: kl[n] for n in ("hybrid_aux", "hybrid_mu_forcing")}, "paper": PAPER_TABLE2},
              baselines={"hybrid_aux": rep["hybrid_aux"]})]
    sections = [
        "## Table 1 (PTB here, APRC in the paper; nats per sentence)\n\n" + table(
            ["model", "rec", "KL", "BLEU-4", "Self-BLEU-4", "paper rec", "paper KL", "paper Self-BLEU-4"],
            [[n, rec[n], kl[n], gen[n]["bleu4"], sb[n], PAPER_TABLE1[n]["rec"], PAPER_TABLE1[n]["kl"],
              PAPER_TABLE1[n]["self_bleu4"]] for n in words]),
        "## Table 2 (Yelp characters)\n\n" + table(
            ["model", "rec", "KL", "KL bits/char", "paper rec"],
            [[n, rec[n], kl[n], rep[n].get("kl_bpc"), PAPER_TABLE2[n]["rec"]]
             for n in ("hybrid_aux", "hybrid_mu_forcing")])]
    return Findings(claims, sections, {"rec": rec, "kl": kl, "self_bleu4": sb})


PAPER = Paper(NAME, "Liu et al. 2019, mu-Forcing: Training Variational Recurrent Autoencoders for Text "
                    "Generation", runs, analyses, judge_all, None,
              small_note="Small scale: PTB words (the paper: APRC) with LSTMs of 128 units, 1,500 steps of 64, KL "
                         "annealed over 1,000; Yelp characters with a small hybrid, 1,500 steps of 32; 1,000 "
                         "prior samples scored against 1,000 test sentences (the paper: 3,000 and 3,000).")
