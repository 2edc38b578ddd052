"""Bowman et al. 2016, Table 4 (and Table 3's examples) at this machine's scale: imputing the final 20% of
sentences with a right-to-left VAE (3 rounds of beam 5, iterated conditional modes) against a right-to-left RNNLM
(beam 15), judged by two discriminators (adversarial error) and by the NLL an independently trained RNNLM gives
the completed sentences.

    python benchmarks/imputation.py --runs runs/bench/imputation [--corpus ptb --corpus yelp] [--parallel 2]

Trains (resumably) recipes/imputation/{corpus}_{vae_r2l,rnnlm_r2l,rnnlm_scorer}.yaml, then evaluates. Writes
benchmarks/imputation.md, imputation.json and imputation.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info  # noqa: E402
from runner import ROOT, cli, train_or_resume  # noqa: E402

from textvae.atomic import write_atomic, write_json_atomic, write_text_atomic  # noqa: E402

MODELS = ("vae_r2l", "rnnlm_r2l", "rnnlm_scorer")
IW_SAMPLES = {"ptb": 500, "yelp": 10}
"""K for the models' nll_iw on the test split: the protocol's 500 on PTB (3,761 sentences); 10 on the 31,742 Yelp
test sentences, where K = 500 would take about a day on one core."""
POOL = {"ptb": ("valid+test", 0), "yelp": ("test", 8000)}
"""Sentences for the adversarial set: PTB's validation and test splits (7,131), Yelp's first 8,000 test ones."""
PAPER = {"rnnlm": {"unigram": 28.32, "lstm": 38.92, "nll": 46.01}, "vae": {"unigram": 22.39, "lstm": 35.59,
                                                                         "nll": 46.14}}


def train(recipe: Path, run: Path) -> None:
    train_or_resume(run, recipe, ["train.threads=1"], ["--iw-samples", str(IW_SAMPLES[run.name.split("_")[0]])])


def evaluate(corpus: str, runs: Path) -> dict:
    split, limit = POOL[corpus]
    out = {}
    for model in ("vae", "rnnlm"):
        run = runs / f"{corpus}_{model}_r2l"
        tic = time.perf_counter()
        adv = json.loads(cli("adversarial", str(run), "--lm", str(runs / f"{corpus}_rnnlm_scorer"), "--split", split,
                             "--limit", str(limit), "--json", "--device", "cpu"))
        words = json.loads(cli("impute-eval", str(run), "--split", "test", "--limit", "2000", "--json",
                               "--device", "cpu"))
        report = json.loads((run / "report.json").read_text())
        out[model] = {"adversarial": adv, "recovered": words, "report": {k: report.get(k) for k in (
            "rec", "kl", "neg_elbo", "nll_iw", "nll", "ppl", "ppl_iw", "mi", "au", "iw_samples", "epochs")},
            "seconds": time.perf_counter() - tic}
        print(f"{corpus} {model}: unigram {adv['unigram']['adversarial_error']:.2f}, lstm "
              f"{adv['lstm']['adversarial_error']:.2f}", file=sys.stderr, flush=True)
    return out


def checks(corpus: str, r: dict) -> list[dict]:
    vae, lm = r["vae"]["adversarial"], r["rnnlm"]["adversarial"]
    out = []
    for disc in ("unigram", "lstm"):
        a, b = vae[disc]["adversarial_error"], lm[disc]["adversarial_error"]
        out.append({"claim": f"{corpus}: the VAE's imputations fool the {disc} discriminator more than the RNNLM's "
                             f"(lower adversarial error)", "holds": a < b,
                    "figures": {"vae": a, "rnnlm": b, "paper_vae": PAPER["vae"][disc],
                                "paper_rnnlm": PAPER["rnnlm"][disc]}})
    a, b = vae["lm_nll"]["imputed"], lm["lm_nll"]["imputed"]
    out.append({"claim": f"{corpus}: the NLL an independent RNNLM gives the completed sentences is comparable for both "
                         "(paper: within 0.3%, the RNNLM's slightly lower); we call within 2% comparable",
                "holds": abs(a - b) <= 0.02 * b, "figures": {"vae": a, "rnnlm": b, "true": vae["lm_nll"]["true"],
                                                             "paper_vae": PAPER["vae"]["nll"],
                                                             "paper_rnnlm": PAPER["rnnlm"]["nll"]}})
    return out


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = list(results)
    fig, axes = plt.subplots(1, len(corpora) + 1, figsize=(4.2 * (len(corpora) + 1), 3.6), squeeze=False,
                             layout="constrained")
    panels = [(c, {m: results[c][m]["adversarial"] for m in ("vae", "rnnlm")}) for c in corpora]
    panels.append(("paper (Book Corpus)", {m: {d: {"adversarial_error": PAPER[m][d]} for d in ("unigram", "lstm")}
                                           for m in ("vae", "rnnlm")}))
    for ax, (title, data) in zip(axes[0], panels, strict=True):
        for j, (model, color) in enumerate((("rnnlm", "tab:gray"), ("vae", "tab:blue"))):
            values = [data[model][d]["adversarial_error"] for d in ("unigram", "lstm")]
            bars = ax.bar([x + 0.38 * j for x in range(2)], values, 0.36, color=color, label=model.upper())
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
        ax.set(xticks=[0.19, 1.19], title=title, ylabel="adversarial error (points; lower is better)")
        ax.set_xticklabels(["unigram LR", "LSTM LR"])
        ax.legend()
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def examples(r: dict, n: int = 8) -> list[str]:
    vae, lm = r["vae"]["adversarial"]["examples"], r["rnnlm"]["adversarial"]["examples"]
    rows = ["| sentence (blanks: the final 20%) | true | RNNLM (beam 15) | VAE (3 x beam 5) |", "|---|---|---|---|"]
    for v, m in list(zip(vae, lm, strict=True))[:n]:
        assert v["blanked"] == m["blanked"]  # the same sentences, the same blanks
        k = v["blanked"].split().count("___")  # the final k words are the imputed ones
        rows.append(f"| {v['blanked']} | " + " | ".join(" ".join(x.split()[-k:]) for x in (v["true"], m["output"],
                                                                                          v["output"])) + " |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench" / "imputation")
    ap.add_argument("--corpus", action="append", choices=sorted(POOL))
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    corpora = args.corpus or ["ptb", "yelp"]
    jobs = [(ROOT / "recipes" / "imputation" / f"{c}_{m}.yaml", args.runs / f"{c}_{m}") for c in corpora
            for m in MODELS]
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda job: train(*job), jobs))
    results = {c: evaluate(c, args.runs) for c in corpora}
    summary = {"machine": machine_info("cpu"), "corpora": corpora, "pool": {c: POOL[c] for c in corpora},
               "results": results, "paper": PAPER, "checks": [x for c in corpora for x in checks(c, results[c])]}
    write_json_atomic(args.out_dir / "imputation.json", summary)
    plot(results, args.out_dir / "imputation.png")
    m = summary["machine"]
    lines = ["# Imputing missing words (Bowman et al. 2016, section 5)", "",
             f"Machine: {m['cpu']}, {m['cpu_count']} CPUs ({', '.join(m['cpu_flags_simd'])}), torch {m['torch']}; "
             f"written {m['date']}. Command: `python benchmarks/imputation.py "
             + " ".join(f"--corpus {c}" for c in corpora) + "`.", "",
             "**Scale.** The paper trains 512-unit models on the Book Corpus (80M sentences) and builds its "
             "adversarial set from 320k sentences. Here: 256-unit right-to-left models (`recipes/imputation/`) on "
             "PTB (42k training sentences, at most 12 epochs) and on Shen et al.'s Yelp sentences (127k, at most 3 "
             "epochs), and adversarial sets of " + ", ".join(f"{c} {POOL[c][0]}" + (f" (first {POOL[c][1]:,})"
                                                                                     if POOL[c][1] else "")
                                                               for c in corpora) + ".", "",
             "**Protocol.** The sentences of the pool are shuffled into two halves; the final 20% of the words of "
             "each sentence of the second half (at least one) are hidden and imputed: the VAE by approximate "
             "iterated conditional modes (unknown words start as `<unk>`; 3 rounds of z = mean of q(z|x) and a beam "
             "search of 5 constrained to the visible words), the RNNLM by a constrained beam search of 15 (the same "
             "computation). A bag-of-unigrams logistic regression and an LSTM logistic regression learn to tell the "
             "true half from the imputed one on 80% of the pairs, are selected on 10% and tested on 10%; the "
             "adversarial error is test accuracy - 50%, in points (lower: harder to tell apart). NLL: the mean "
             "-log p of the completed sentences under a separately trained left-to-right RNNLM, nats per sentence. "
             "Words recovered: the share of hidden words imputed exactly, first 2,000 test sentences.", "",
             "| corpus | model | adversarial error, unigram | adversarial error, LSTM | NLL (scorer) | words "
             "recovered | imputations/s | model: rec / KL / nll |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for c in corpora:
        for model in ("rnnlm", "vae"):
            r = results[c][model]
            a, rep = r["adversarial"], r["report"]
            fig = (f"nll {rep['nll']:.2f}" if rep.get("nll") is not None else
                   f"{rep['rec']:.2f} / {rep['kl']:.2f} / {rep['nll_iw']:.2f} (K={rep['iw_samples']})")
            lines.append(f"| {c} | {model.upper()} ({a['method']}) | {a['unigram']['adversarial_error']:.2f} | "
                         f"{a['lstm']['adversarial_error']:.2f} | {a['lm_nll']['imputed']:.2f} (true "
                         f"{a['lm_nll']['true']:.2f}) | {100 * r['recovered']['accuracy']:.1f}% | "
                         f"{a['imputations_per_s']:.1f} | {fig} |")
    lines += [f"| Book Corpus (paper) | RNNLM (beam 15) | {PAPER['rnnlm']['unigram']} | {PAPER['rnnlm']['lstm']} | "
              f"{PAPER['rnnlm']['nll']} | | | |",
              f"| Book Corpus (paper) | VAE (3 x beam 5) | {PAPER['vae']['unigram']} | {PAPER['vae']['lstm']} | "
              f"{PAPER['vae']['nll']} | | | |", "", "![adversarial errors](imputation.png)", "",
              "## The paper's claims", ""]
    lines += [f"- {'**holds**' if x['holds'] else '**does not hold**'}: {x['claim']} ({json.dumps(x['figures'])})"
              for x in summary["checks"]]
    for c in corpora:
        lines += ["", f"## Examples ({c}, like Table 3; the first imputed sentences of the adversarial set)", "",
                  *examples(results[c])]
    write_text_atomic(args.out_dir / "imputation.md", "\n".join(lines) + "\n")
    print(f"wrote {args.out_dir / 'imputation.md'}")


if __name__ == "__main__":
    main()
