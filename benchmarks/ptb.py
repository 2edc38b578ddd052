"""Bowman et al. 2016, Table 2 (PTB) reproduced with the recipes: train (or reuse) each run, evaluate it on
the test split with K importance samples, and write benchmarks/ptb.md and benchmarks/ptb.json.

    python benchmarks/ptb.py --runs runs/bench [--epochs ptb_vae=12] [--bf16] [--threads 1] [--iw-samples 500]

A run folder that already holds report.json is reused (not retrained); an eval_test.json with the same K is
reused too. Rows are trained one after another; the slow part on a CPU is nll_iw with K=500.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from machine import machine_info

from textvae.atomic import write_json_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
ROWS = [
    # key, recipe, Table 2 label, paper test NLL, paper test KL, paper test PPL
    ("ptb_rnnlm", "recipes/bowman2016/ptb_rnnlm.yaml", "RNNLM (standard)", 100, None, 116),
    ("ptb_vae", "recipes/bowman2016/ptb_vae.yaml", "VAE (standard)", 101, 2, 119),
    ("ptb_rnnlm_inputless", "recipes/bowman2016/ptb_rnnlm_inputless.yaml", "RNNLM (inputless)", 135, None, 600),
    ("ptb_vae_inputless", "recipes/bowman2016/ptb_vae_inputless.yaml", "VAE (inputless)", 125, 15, 380),
]
FIELDS = ("rec", "kl", "neg_elbo", "nll_iw", "ppl_iw", "mi", "au", "train_seconds", "tokens_per_s")


def _kv(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


def run_cli(args: list[str]) -> None:
    print("+ textvae " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "textvae.cli", *args], check=True, cwd=ROOT)


def row_figures(key: str, run: Path, k: int) -> dict:
    report = json.loads((run / "report.json").read_text())
    eval_file = run / "eval_test.json"
    metrics = json.loads(eval_file.read_text()) if eval_file.is_file() else {}
    if "nll" not in report and metrics.get("iw_samples") != k:
        run_cli(["evaluate", str(run), "--split", "test", "--iw-samples", str(k)])
        metrics = json.loads(eval_file.read_text())
    if "nll" in report:  # RNNLM: exact likelihood, no latent
        metrics = report
        fig = {"rec": report["nll"], "kl": 0.0, "neg_elbo": report["nll"], "nll_iw": report["nll"],
               "ppl_iw": report["ppl"], "mi": None, "au": None, "likelihood": "exact"}
    else:
        fig = {k2: metrics[k2] for k2 in ("rec", "kl", "neg_elbo", "nll_iw", "ppl_iw", "mi", "au")}
        fig.update(likelihood=f"importance-weighted, K={metrics['iw_samples']}", mi_variant=metrics["mi_variant"],
                   iw_samples=metrics["iw_samples"], eval_seconds=metrics["seconds"],
                   eval_sentences_per_s=metrics["sentences"] / metrics["seconds"])
    fig.update(ppl_elbo=report.get("ppl_elbo"), train_seconds=report["train_seconds"],
               tokens_per_s=report["tokens_per_s"], epochs=report["epochs"], steps=report["steps"])
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench")
    ap.add_argument("--epochs", action="append", default=[], help="ROW=N: cap the epochs of one row")
    ap.add_argument("--bf16", action="store_true", help="train with bf16 autocast")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--iw-samples", type=int, default=500)
    ap.add_argument("--iw", action="append", default=[], help="ROW=K: importance samples for one row")
    ap.add_argument("--rows", nargs="*", default=[r[0] for r in ROWS])
    ap.add_argument("--note", default="")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks")
    args = ap.parse_args()
    epochs, iw = _kv(args.epochs), _kv(args.iw)
    rows, commands = [], []
    for key, recipe, label, p_nll, p_kl, p_ppl in ROWS:
        if key not in args.rows:
            continue
        run = args.runs / key
        cmd = ["train", recipe, "--out", str(run), "--iw-samples", "0"]
        if key in epochs:
            cmd += ["--set", f"train.epochs={epochs[key]}"]
        if args.bf16:
            cmd += ["--set", "train.bf16=true"]
        if args.threads:
            cmd += ["--set", f"train.threads={args.threads}"]
        commands.append("textvae " + " ".join(cmd))
        if not (run / "report.json").is_file():
            run_cli(cmd if not (run / "checkpoint.pt").is_file() else ["train", "--resume", str(run),
                                                                        "--iw-samples", "0"])
        fig = row_figures(key, run, int(iw.get(key, args.iw_samples)))
        rows.append({"model": label, "split": "test", **fig, "paper_nll": p_nll, "paper_kl": p_kl,
                     "paper_ppl": p_ppl})
    machine = machine_info("cuda" if torch.cuda.is_available() else "cpu")
    write_json_atomic(args.out_dir / "ptb.json", rows)
    write_text_atomic(args.out_dir / "ptb.md", render(rows, machine, commands, args))


def _f(x, nd=1) -> str:
    return "–" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def _shown_args(argv: list[str]) -> str:
    """The command line with the (long) --note text elided."""
    shown, skip = [], False
    for a in argv:
        if skip:
            shown.append("'...'")
            skip = False
            continue
        skip = a == "--note"
        shown.append(a)
    return " ".join(shown)


def _paper(r: dict) -> str:
    return f"{r['paper_nll']}" + ("" if r["paper_kl"] is None else f" ({r['paper_kl']})")


def render(rows: list[dict], machine: dict, commands: list[str], args) -> str:
    head = ("| model | rec | kl | neg_elbo | nll_iw | K | ppl_iw | ppl_elbo | mi | au | epochs | train time | "
            "tokens/s | paper NLL (KL) | paper PPL |\n|" + "---|" * 15 + "\n")
    body = "".join(
        f"| {r['model']} | {_f(r['rec'])} | {_f(r['kl'], 2)} | {_f(r['neg_elbo'])} | {_f(r['nll_iw'])} | "
        f"{r.get('iw_samples', 'exact')} | "
        f"{_f(r['ppl_iw'])} | {_f(r['ppl_elbo'])} | {_f(r['mi'], 2)} | {_f(r['au'])} | {r['epochs']} | "
        f"{r['train_seconds'] / 60:.0f} min | {r['tokens_per_s']:.0f} | {_paper(r)} | {r['paper_ppl']} |\n"
        for r in rows)
    return (
        "# PTB language modelling: Bowman et al. 2016, Table 2\n\n"
        f"Machine: {machine.get('gpu', machine['cpu'])}, {machine['cpu_count']} CPUs, torch {machine['torch']}; "
        f"training with {args.threads or 'default'} thread(s), evaluation with torch's default; "
        f"written {machine['date']}.\n"
        + (f"\n{args.note}\n" if args.note else "")
        + "\nTest split (3,761 sentences, 82,430 tokens with `</s>`), nats per sentence; RNNLM rows are exact "
        "likelihoods (their nll_iw column is the exact NLL), VAE rows give the ELBO (`neg_elbo`) and the "
        "importance-weighted estimate (`nll_iw` with K samples, column K). Definitions: `docs/metrics.md`. "
        "The paper's columns are its test figures (its VAE figure is the ELBO, with the KL in parentheses).\n\n"
        + head + body
        + "\nThe paper's perplexities count tokens differently from ours: its NLL 100 with PPL 116 implies 21.0 "
        "tokens per test sentence, while we count 21.9 (words and `</s>`); compare NLLs, not PPLs. Training "
        "tokens/s here were measured with several runs sharing the cores; `speed.md` has uncontended figures.\n"
        + "\nRegenerate (runs that already have a report are reused; `--note` takes the paragraph above):\n\n"
        "```bash\npython benchmarks/ptb.py " + _shown_args(sys.argv[1:]) + "\n```\n\nwhich runs, per row:\n\n"
        "```bash\n" + "\n".join(commands) + "\n```\n"
    )


if __name__ == "__main__":
    main()
