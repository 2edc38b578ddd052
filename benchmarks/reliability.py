"""Kill-anywhere resume, measured: random SIGKILLs of real training processes, each run resumed until it ends,
compared with an uninterrupted run of the same recipe (``tests/killharness.py``).

    python benchmarks/reliability.py --trials 25 --kills 3

A small LSTM VAE on a generated corpus of 400 training and 200 validation and test sentences (3 epochs, a
checkpoint every 7 steps, a log line every 5, validation each epoch, a K=20 final test evaluation): each attempt
is killed after a delay drawn uniformly from [0, the uninterrupted wall time), so kills land in start-up,
training steps, checkpoint writes, validations and the final evaluation in proportion to the time each takes.
Writes benchmarks/reliability.md and .json.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import tiny_recipe, write_corpus, write_recipe  # noqa: E402
from killharness import trial, uninterrupted  # noqa: E402
from machine import machine_info  # noqa: E402

from textvae.atomic import write_json_atomic, write_text_atomic  # noqa: E402

RECIPE = {"train": {"epochs": 3, "checkpoint_every": 7, "log_every": 5, "threads": 1},
          "model": {"latent_dim": 8, "encoder": {"embed_dim": 16, "hidden_dim": 32},
                    "decoder": {"embed_dim": 16, "hidden_dim": 32, "dropout": 0.1}},
          "objective": {"bow": {"weight": 0.5, "hidden": 16}}, "eval": {"iw_samples": 20}}
N_TRAIN, N_EVAL = 400, 200


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=25)
    ap.add_argument("--kills", type=int, default=3, help="kills per trial at most (a run may end first)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = write_corpus(tmp / "corpus", n_train=N_TRAIN, n_eval=N_EVAL, seed=args.seed)
        recipe = write_recipe(tmp / "r.yaml", tiny_recipe(corpus, **RECIPE))
        span = uninterrupted(recipe, tmp / "reference")
        results = []
        for i in range(args.trials):
            r = trial(recipe, tmp / "reference", tmp / f"trial{i}", args.kills, span, rng)
            results.append(r)
            print(f"trial {i + 1}/{args.trials}: {r['kills']} kills, identical {r['identical']} "
                  f"{r['differences'] or ''}", file=sys.stderr, flush=True)
    kills = sum(r["kills"] for r in results)
    identical = sum(r["identical"] for r in results)
    moments = collections.Counter(m for r in results for m in r["moments"])
    summary = {
        "machine": machine_info("cpu"), "recipe": RECIPE, "uninterrupted_seconds": span,
        "trials": len(results), "kills": kills, "identical": identical,
        "kills_by_moment": dict(moments), "seconds": time.perf_counter() - tic,
        "checks": [{"claim": "a run killed at any moment (SIGKILL) resumes to the run no kill would give: the same "
                             "weights bitwise, report, evaluation and metrics log",
                    "holds": identical == len(results) and kills >= 50,
                    "figures": {"trials": len(results), "kills": kills, "identical": identical}}],
        "results": results,
    }
    write_json_atomic(args.out_dir / "reliability.json", summary)
    m = summary["machine"]
    lines = [
        "# Reliability: kill anywhere, resume exactly", "",
        f"Machine: {m['cpu']}, {m['cpu_count']} CPUs, torch {m['torch']}; written {m['date']}. "
        f"Command: `python benchmarks/reliability.py --trials {args.trials} --kills {args.kills} --seed {args.seed}` "
        f"({summary['seconds'] / 60:.1f} min).", "",
        "Each trial trains a small LSTM VAE (embed 16, hidden 32, z 8, decoder dropout 0.1, bag-of-words term; a "
        "generated corpus of 400 training and 200 validation and test sentences; 3 epochs of 50 steps, a "
        "checkpoint every 7 steps, a log line every 5, validation each epoch, a K=20 final test evaluation) as a "
        "real `textvae train` process and kills it with "
        f"SIGKILL after a delay uniform in [0, {span:.1f} s), the uninterrupted run's wall time; then it resumes "
        "(`--resume RUN` once the run folder exists, else the same command again) and is killed again, up to "
        f"{args.kills} times, and then runs to its end. The finished run is compared with an uninterrupted one: "
        "bitwise-identical best and last weights, the same checkpoint state, report.json, eval_test.json and "
        "metrics.jsonl (timing fields aside), and no temporary or staging file left behind.", "",
        "| trials | kills | identical |", "|---:|---:|---:|", f"| {len(results)} | {kills} | {identical} |", "",
        "Where the kills landed (read off the run folder after each kill):", "",
        "| moment | kills |", "|---|---:|", *[f"| {k} | {v} |" for k, v in moments.most_common()], "",
        f"**{'Holds' if summary['checks'][0]['holds'] else 'Does not hold'}**: {identical} of {len(results)} trials "
        f"ended identical to the uninterrupted run after {kills} kills.", "",
    ]
    bad = [r for r in results if not r["identical"]]
    if bad:
        lines += ["Trials that differed:", "", *[f"- {r['moments']}: {r['differences']}" for r in bad], ""]
    write_text_atomic(args.out_dir / "reliability.md", "\n".join(lines))
    print(f"wrote {args.out_dir / 'reliability.md'}: {identical}/{len(results)} identical, {kills} kills")


if __name__ == "__main__":
    main()
