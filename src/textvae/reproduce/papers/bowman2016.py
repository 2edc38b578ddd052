"""Bowman et al. 2016, Generating Sentences from a Continuous Space: five claims on PTB.

1. Without KL annealing and word dropout the VAE's KL collapses to zero; with them it does not (Section 4).
2. As the word keep rate falls, the KL grows and the likelihood degrades (Fig. 3, Section 6.1).
3. With an inputless decoder the VAE beats the inputless RNNLM by a wide margin, with a large KL (Table 2).
4. Imputing the last 20% of a sentence, the VAE's completions are harder to tell from true sentences than the
   RNNLM's: lower adversarial error for a unigram and an LSTM discriminator (Table 4).
5. Homotopies: the sentences decoded between two codes are grammatical for the VAE and not for the sequence
   autoencoder (Tables 1 and 8); measured as the NLL per token an independent RNNLM gives them.
"""

from __future__ import annotations

from pathlib import Path

from textvae.reproduce.artifacts import Analysis, Artifacts
from textvae.reproduce.papers import Findings, Paper
from textvae.reproduce.papers.common import (
    DECODER_128,
    NO_ANNEALING,
    WORD_SMALL,
    WORD_TRAIN,
    monotone,
    nll_per_token,
    open_session,
    sigmoid_annealing,
    steps,
)
from textvae.reproduce.runs import RunSpec
from textvae.reproduce.verdicts import collapsed, gap_z, judge

NAME = "bowman2016"
KEEPS = (1.0, 0.75, 0.5, 0.25)
ANNEAL = 1000
"""Small scale: the sigmoid weight centred at step 500 of 1,500 (the recipe: 2,500 of a run to early stopping)."""
PAPER_TABLE2 = {"rnnlm": (100, None), "vae": (101, 2), "rnnlm_inputless": (135, None), "vae_inputless": (125, 15)}
"""Table 2, test NLL (and KL) in nats per sentence."""
PAPER_TABLE4 = {"unigram": {"vae": 22.39, "rnnlm": 28.32}, "lstm": {"vae": 35.59, "rnnlm": 38.92}}
"""Table 4 (Books Corpus, final 20% imputed): adversarial error in %, lower is better."""
HOMOTOPY = {"pairs": 100, "steps": 7, "max_words": 15}
IMPUTE = {"split": "valid+test", "limit": 0, "mask": "final20"}
"""Every validation and test sentence (7,131 on PTB): half true, half imputed, so each discriminator is tested on
713 sentences, a standard error of about 1.9 points on its accuracy (the paper: the Books Corpus)."""


def keep_name(k: float) -> str:
    return f"vae_keep{round(k * 100)}"


def runs(scale: str) -> list[RunSpec]:
    if scale == "full":
        sets: dict[str, tuple] = {n: () for n in ("vae_plain", "rnnlm", "seq_ae", "vae_inputless", "rnnlm_inputless")}
        sets["vae_plain"] = (*NO_ANNEALING, "objective.word_dropout.keep=1.0")
        base = ()
    else:
        base = (*WORD_SMALL, *steps())
        sets = {"vae_plain": (*base, *NO_ANNEALING, "objective.word_dropout.keep=1.0"),
                "rnnlm": (*WORD_TRAIN, *steps(), *DECODER_128),
                "seq_ae": base,
                "vae_inputless": (*base, *sigmoid_annealing(ANNEAL), "model.latent_dim=32"),
                "rnnlm_inputless": (*WORD_TRAIN, *steps(), "model.decoder.embed_dim=128")}
        base = (*base, *sigmoid_annealing(ANNEAL))
    recipes = {"vae_plain": "ptb_vae", "rnnlm": "ptb_rnnlm", "seq_ae": "ptb_seq_ae",
               "vae_inputless": "ptb_vae_inputless", "rnnlm_inputless": "ptb_rnnlm_inputless"}
    out = [RunSpec(n, f"bowman2016/{recipes[n]}", tuple(sets[n])) for n in recipes]
    out += [RunSpec(keep_name(k), "bowman2016/ptb_vae", (*base, f"objective.word_dropout.keep={k}")) for k in KEEPS]
    return out


def homotopies(paths: dict[str, Path], device: str) -> dict:
    """Paths between the posterior means of pairs of short test sentences, greedy decodes of ``steps`` evenly
    spaced codes (endpoints included), for the VAE and the sequence autoencoder; the intermediate sentences
    scored by the independent RNNLM (nats per token), and how many are copies of an endpoint or of a training
    sentence."""
    import torch

    from textvae.analysis.codes import homotopy
    from textvae.decoding import DecodeOptions

    lm = open_session(paths["rnnlm"], device)
    out = {}
    for name in ("vae_keep75", "seq_ae"):
        s = open_session(paths[name], device)
        test = [x for x in s.split("test").ids if 4 <= len(x) <= HOMOTOPY["max_words"]]
        g = torch.Generator().manual_seed(0)
        pick = torch.randperm(len(test), generator=g)[: 2 * HOMOTOPY["pairs"]].tolist()
        train = set(s.split_lines("train"))
        train_text = {s.text(s.ids(x)) for x in train}
        mids, paths_out, copies_end, copies_train, moves = [], [], 0, 0, 0
        opts = DecodeOptions(method="greedy", max_len=50)
        for i in range(0, len(pick) - 1, 2):
            a, b = test[pick[i]], test[pick[i + 1]]
            z, _ = s.codes_of_ids([a, b])
            sents = s.decode(homotopy(z[0], z[1], HOMOTOPY["steps"]), opts)
            inner = sents[1:-1]
            mids += inner
            copies_end += sum(x in (sents[0], sents[-1]) for x in inner)
            copies_train += sum(x in train_text for x in inner)
            moves += len(set(sents)) - 1
            if len(paths_out) < 5:
                paths_out.append({"from": s.text(a), "to": s.text(b), "path": sents})
        n = max(1, len(mids))
        out[name] = {"nll_per_token": nll_per_token(lm, mids), "intermediate": len(mids),
                     "endpoint_copies": copies_end / n, "training_copies": copies_train / n,
                     "distinct_per_path": 1 + moves / max(1, len(pick) // 2), "examples": paths_out}
    test_lines = [lm.text(x) for x in lm.split("test").ids if 4 <= len(x) <= HOMOTOPY["max_words"]][:500]
    out["test_sentences"] = {"nll_per_token": nll_per_token(lm, test_lines)}
    return out


def imputation(paths: dict[str, Path], device: str) -> dict:
    """Table 4: the last 20% of test sentences imputed by the VAE and by the RNNLM (beam search of the library's
    imputers), each against true sentences for a unigram and an LSTM discriminator."""
    lm = open_session(paths["rnnlm"], device)
    out = {}
    for name in ("vae_keep75", "rnnlm"):
        from textvae.session.impute import adversarial

        r = adversarial(open_session(paths[name], device), IMPUTE["split"], IMPUTE["mask"], IMPUTE["limit"], 0,
                        lm=lm)
        out[name] = {k: r[k] for k in ("method", "sentences", "sizes", "accuracy", "unigram", "lstm", "lm_nll",
                                       "examples")}
    return out


def analyses(scale: str) -> list[Analysis]:
    return [Analysis("homotopies", ("vae_keep75", "seq_ae", "rnnlm"), homotopies),
            Analysis("imputation", ("vae_keep75", "rnnlm"), imputation, version=2)]


def judge_all(a: Artifacts) -> Findings:
    rep = {s.name: a.report(s.name) for s in runs(a.scale)}
    claims, sections = [], []
    plain, anneal = rep["vae_plain"], rep["vae_keep75"]
    claims.append(judge(NAME, "Without KL annealing and word dropout the VAE's KL collapses (under 0.1 nats); with "
                              "both (sigmoid annealing, keep rate 0.75) it does not",
                        collapsed(plain), {"kl_plain": plain["kl"], "kl_annealed_keep75": anneal["kl"],
                                           "neg_elbo_plain": plain["neg_elbo"], "nll_rnnlm": rep["rnnlm"]["nll"]},
                        baselines={"vae_keep75": anneal}))
    kls = [rep[keep_name(k)]["kl"] for k in KEEPS]
    bounds = [rep[keep_name(k)]["neg_elbo"] for k in KEEPS]
    grows = monotone(kls, rising=True, tol=0.05) and kls[-1] - kls[0] >= 1.0
    claims.append(judge(NAME, "As the word keep rate falls (1.0, 0.75, 0.5, 0.25) the KL grows (by 1 nat or more "
                              "in all) and the likelihood bound degrades (neg_elbo at 0.25 above 1.0's)",
                        grows and bounds[-1] > bounds[0],
                        {"keep": list(KEEPS), "kl": kls, "neg_elbo": bounds},
                        baselines={keep_name(KEEPS[-1]): rep[keep_name(KEEPS[-1])]}))
    vi, li = rep["vae_inputless"], rep["rnnlm_inputless"]
    claims.append(judge(NAME, "Inputless decoders: the VAE's test bound (neg_elbo) is well below the inputless "
                              "RNNLM's exact NLL (paper: 125 against 135, 7%), with a large KL (paper: 15 nats)",
                        vi["neg_elbo"] < 0.97 * li["nll"] and vi["kl"] > 5.0,
                        {"vae_neg_elbo": vi["neg_elbo"], "vae_kl": vi["kl"], "rnnlm_nll": li["nll"],
                         "paper": {"vae": 125, "vae_kl": 15, "rnnlm": 135}}))
    imp = a.analysis("imputation")
    adv = {d: {m: imp[m][d]["adversarial_error"] for m in ("vae_keep75", "rnnlm")} for d in ("unigram", "lstm")}
    n = {m: imp[m]["sizes"]["test"] for m in ("vae_keep75", "rnnlm")}
    # the VAE's discriminator accuracy below the RNNLM's, each measured on n test sentences: z of the gap
    z = {d: -gap_z(0.5 + adv[d]["vae_keep75"] / 100, n["vae_keep75"], 0.5 + adv[d]["rnnlm"] / 100, n["rnnlm"])
         for d in adv}
    wrong = [d for d in adv if z[d] <= -1.645]  # the VAE's completions significantly easier to tell apart
    noise = [d for d in adv if abs(z[d]) < 1.645]
    claims.append(judge(NAME, "Imputing the final 20% of validation and test sentences, the VAE's completions have a "
                              "lower adversarial error than the RNNLM's for both discriminators (Table 4), each gap "
                              "beyond the test set's noise (one-sided z-test, p < 0.05)",
                        not wrong and not noise,
                        {"adversarial_error": adv, "z_of_gap": z, "test_sentences": n, "paper": PAPER_TABLE4,
                         "words_recovered": {m: imp[m]["accuracy"] for m in ("vae_keep75", "rnnlm")}},
                        baselines={"vae_keep75": anneal},
                        unmeasurable="" if wrong or not noise else
                        f"the gap is within the noise of {n['rnnlm']} test sentences for the "
                        f"{' and '.join(noise)} discriminator (|z| < 1.645)"))
    h = a.analysis("homotopies")
    moving = h["vae_keep75"]["distinct_per_path"] >= 2.0
    claims.append(judge(NAME, "Homotopies: the sentences decoded between two test sentences' codes are more "
                              "grammatical for the VAE than for the sequence autoencoder (lower NLL per token "
                              "under the independent RNNLM)",
                        h["vae_keep75"]["nll_per_token"] < h["seq_ae"]["nll_per_token"],
                        {m: {k: h[m][k] for k in ("nll_per_token", "endpoint_copies", "training_copies",
                                                  "distinct_per_path")} for m in ("vae_keep75", "seq_ae")}
                        | {"test_sentences_nll_per_token": h["test_sentences"]["nll_per_token"]},
                        baselines={"vae_keep75": anneal},
                        unmeasurable="" if moving else "the VAE's paths do not move (fewer than 2 distinct "
                                                       "sentences a path): nothing to compare"))
    sections.append("## Table 2 (language modelling, nats per sentence)\n\n" + _table2(rep))
    sections.append("## Word keep rate (Fig. 3)\n\n" + _keep_table(kls, bounds, rep))
    sections.append("## Imputation (Table 4, adversarial error %, lower is better)\n\n" + _table4(adv))
    sections.append("## Homotopies (Tables 1 and 8)\n\n" + _homotopy_section(h))
    return Findings(claims, sections, {"kl_by_keep": dict(zip(map(str, KEEPS), kls, strict=True)),
                                       "adversarial_error": adv})


def _table2(rep: dict) -> str:
    from textvae.reproduce.report import table

    rows = []
    for name, paper_name in (("rnnlm", "rnnlm"), ("vae_keep75", "vae"), ("vae_plain", None),
                             ("rnnlm_inputless", "rnnlm_inputless"), ("vae_inputless", "vae_inputless")):
        r = rep[name]
        ours = r.get("nll", r.get("neg_elbo"))
        p = PAPER_TABLE2.get(paper_name or "", (None, None))
        rows.append([name, ours, r.get("kl"), r.get("ppl", r.get("ppl_elbo")), p[0], p[1]])
    return table(["model", "test NLL / neg_elbo", "KL", "PPL", "paper NLL", "paper KL"], rows)


def _keep_table(kls, bounds, rep) -> str:
    from textvae.reproduce.report import table

    return table(["keep rate", "KL", "neg_elbo", "rec", "AU"],
                 [[k, kl, b, rep[keep_name(k)]["rec"], rep[keep_name(k)].get("au")]
                  for k, kl, b in zip(KEEPS, kls, bounds, strict=True)])


def _table4(adv: dict) -> str:
    from textvae.reproduce.report import table

    return table(["discriminator", "VAE", "RNNLM", "paper VAE", "paper RNNLM"],
                 [[d, adv[d]["vae_keep75"], adv[d]["rnnlm"], PAPER_TABLE4[d]["vae"], PAPER_TABLE4[d]["rnnlm"]]
                  for d in adv])


def _homotopy_section(h: dict) -> str:
    from textvae.reproduce.report import table

    t = table(["model", "NLL/token (RNNLM)", "copies of an endpoint", "copies of a training sentence",
               "distinct sentences a path"],
              [[m, h[m]["nll_per_token"], h[m]["endpoint_copies"], h[m]["training_copies"],
                h[m]["distinct_per_path"]] for m in ("vae_keep75", "seq_ae")])
    ex = []
    for m in ("vae_keep75", "seq_ae"):
        if h[m]["examples"]:
            e = h[m]["examples"][0]
            ex.append(f"**{m}**: " + " → ".join(f"*{x}*" for x in e["path"]))
    ref = h["test_sentences"]["nll_per_token"]
    return t + f"\n\nTest sentences themselves: {ref:.3g} nats per token.\n\n" + "\n\n".join(ex)


def plot(a: Artifacts, path: Path) -> bool:
    from textvae.reproduce.report import label, panels

    with panels(path) as ax:
        kls = [a.report(keep_name(k))["kl"] for k in KEEPS]
        recs = [a.report(keep_name(k))["rec"] for k in KEEPS]
        ax[0].plot(KEEPS, kls, "o-", label="KL")
        ax[0].invert_xaxis()
        ax2 = ax[0].twinx()
        ax2.plot(KEEPS, recs, "s--", color="C1", label="rec")
        ax2.set_ylabel("rec (nats)")
        label(ax[0], "word keep rate", "KL (nats)", "Fig. 3: KL and rec against keep rate", legend=None)
        for name in ("vae_plain", "vae_keep75"):
            rows = a.metrics(name, "train")
            ax[1].plot([r["step"] for r in rows], [r["kl"] for r in rows], label=name)
        label(ax[1], "step", "train KL (nats)", "Fig. 2: KL without and with annealing")
    return True


PAPER = Paper(NAME, "Bowman et al. 2016, Generating Sentences from a Continuous Space", runs, analyses, judge_all,
              plot, small_note="Small scale: PTB, embeddings and LSTMs of 128 units, z of 13 (32 inputless), "
                               "1,500 steps of 64 sentences a run (the paper: tuned sizes, to early stopping).")
