"""Which settings make the README's quick demo show a working latent space: candidates measured side by side.

    python benchmarks/demo.py --runs runs/bench/demo [--parallel 2]

Each candidate is ``recipes/quick_ptb.yaml`` (PTB with a 3,000-word vocabulary, sentences of up to 25 words, an
LSTM VAE with 256 units and 16 latent dimensions, 1,000 steps of 64 sentences) with the library's own means against
posterior collapse switched on by ``--set`` overrides. For each: the test figures (K=10), the reconstruction
BLEU and exact-match rate of greedy decodes from the posterior mean of the first 500 test sentences, five
greedy prior samples, and the wall time. Writes benchmarks/demo.md and benchmarks/demo.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from claims import Claims, recheck  # noqa: E402
from machine import machine_info  # noqa: E402
from runner import ROOT, cli, train_or_resume  # noqa: E402

from textvae.atomic import write_json_atomic, write_text_atomic  # noqa: E402

CANDIDATES = {
    "quick (annealing to 0.5, word keep 0.5)": [],
    "free bits 0.5/dim": ["objective.free_bits.per_dim=0.5"],
    "free bits 1.0/dim": ["objective.free_bits.per_dim=1.0"],
    "bag of words 1.0": ["objective.bow.weight=1.0", "objective.bow.hidden=256"],
    "free bits 0.5/dim + bag of words": ["objective.free_bits.per_dim=0.5", "objective.bow.weight=1.0",
                                         "objective.bow.hidden=256"],
    "mu-Forcing beta 4": ["objective.mu_forcing.beta=4.0"],
    "free bits 0.5/dim, word keep 0.25": ["objective.free_bits.per_dim=0.5", "objective.word_dropout.keep=0.25"],
    "free bits 0.5/dim, KL weight 1 from step 0": ["objective.free_bits.per_dim=0.5",
                                                   "objective.kl_weight.schedule=constant"],
    "z 32, free bits 1.0/dim": ["model.latent_dim=32", "objective.free_bits.per_dim=1.0"],
    "z 32, free bits 2.0/dim": ["model.latent_dim=32", "objective.free_bits.per_dim=2.0"],
    "z 32, free bits 1.0/dim + bag of words": ["model.latent_dim=32", "objective.free_bits.per_dim=1.0",
                                               "objective.bow.weight=1.0", "objective.bow.hidden=256"],
    "z 32, KL weight 0.1": ["model.latent_dim=32", "objective.kl_weight.schedule=constant",
                            "objective.kl_weight.value=0.1"],
    "z 32, free bits 2.0/dim, 2,000 steps": ["model.latent_dim=32", "objective.free_bits.per_dim=2.0",
                                             "train.epochs=5", "train.max_steps=2000"],
    "sequence autoencoder, z 32 (no prior: the ceiling)": ["model.type=ae", "model.latent_dim=32"],
    "z 32 at every step, free bits 1.0/dim + bag of words": ["model.latent_dim=32", "model.decoder.z_concat=true",
                                                             "objective.free_bits.per_dim=1.0",
                                                             "objective.bow.weight=1.0", "objective.bow.hidden=256"],
    "z 32 at every step, free bits 2.0/dim": ["model.latent_dim=32", "model.decoder.z_concat=true",
                                              "objective.free_bits.per_dim=2.0"],
    "z 32 at every step, free bits 1.0/dim, word keep 0.25": ["model.latent_dim=32", "model.decoder.z_concat=true",
                                                              "objective.free_bits.per_dim=1.0",
                                                              "objective.word_dropout.keep=0.25"],
    "sequence autoencoder, z 32, bidirectional encoder": ["model.type=ae", "model.latent_dim=32",
                                                          "model.encoder.bidirectional=true"],
    "bidirectional encoder, z 32 at every step, free bits 1.0/dim + bag of words": [
        "model.latent_dim=32", "model.encoder.bidirectional=true", "model.decoder.z_concat=true",
        "objective.free_bits.per_dim=1.0", "objective.bow.weight=1.0", "objective.bow.hidden=256"],
    "bidirectional encoder, z 32 at every step, free bits 1.0/dim + bag of words, up to 15 words": [
        "model.latent_dim=32", "model.encoder.bidirectional=true", "model.decoder.z_concat=true",
        "objective.free_bits.per_dim=1.0", "objective.bow.weight=1.0", "objective.bow.hidden=256",
        "data.max_len=15"],
    "bidirectional encoder, z 32 at every step, free bits 2.0/dim + bag of words": [
        "model.latent_dim=32", "model.encoder.bidirectional=true", "model.decoder.z_concat=true",
        "objective.free_bits.per_dim=2.0", "objective.bow.weight=1.0", "objective.bow.hidden=256"],
    "sequence autoencoder, z 32, bidirectional encoder, 3,000 steps": [
        "model.type=ae", "model.latent_dim=32", "model.encoder.bidirectional=true", "train.epochs=7",
        "train.max_steps=3000"],
    "bidirectional encoder, z 32 at every step, free bits 1.0/dim + bag of words, 3,000 steps": [
        "model.latent_dim=32", "model.encoder.bidirectional=true", "model.decoder.z_concat=true",
        "objective.free_bits.per_dim=1.0", "objective.bow.weight=1.0", "objective.bow.hidden=256",
        "train.epochs=7", "train.max_steps=3000"],
    "Yelp: bidirectional encoder, z 32 at every step, free bits 1.0/dim + bag of words": [
        "data.corpus=yelp", "model.latent_dim=32", "model.encoder.bidirectional=true", "model.decoder.z_concat=true",
        "objective.free_bits.per_dim=1.0", "objective.bow.weight=1.0", "objective.bow.hidden=256"],
    "Yelp: bidirectional encoder, z 32 at every step, free bits 1.0/dim + bag of words, 2,000 steps": [
        "data.corpus=yelp", "model.latent_dim=32", "model.encoder.bidirectional=true", "model.decoder.z_concat=true",
        "objective.free_bits.per_dim=1.0", "objective.bow.weight=1.0", "objective.bow.hidden=256",
        "train.max_steps=2000"],
}


NOTE = (" This BLEU, on the first 500 test sentences, only ranks the candidates of one run of this benchmark; the "
        "demo's reconstruction BLEU by textvae's one definition (every test sentence, `docs/metrics.md`), beside a "
        "plain VAE of the same model, corpus and steps, is in `benchmarks/first_recipe.md`.")
"""Said under the table: the candidates' BLEU is not the demo's reported figure."""

DEMO = "Yelp: bidirectional encoder, z 32 at every step, free bits 1.0/dim + bag of words, 2,000 steps"
"""The candidate that recipes/quick.yaml is (tests/test_config.py checks that they are the same recipe)."""


def shown(path: Path) -> Path:
    """``path`` relative to the checkout when it is inside it."""
    return path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path


def measure(name: str, overrides: list[str], runs: Path) -> dict:
    run = runs / name.split(" (")[0].replace(" ", "_").replace("/", "_").replace(",", "").replace(".", "")
    tic = time.perf_counter()
    train_or_resume(run, "recipes/quick_ptb.yaml", ["train.threads=1", *overrides])
    wall = time.perf_counter() - tic
    report = json.loads((run / "report.json").read_text())
    rec = json.loads(cli("reconstruct", str(run), "--limit", "500", "--samples", "0", "--json", "--device", "cpu"))
    samples = json.loads(cli("sample", str(run), "--n", "5", "--json", "--device", "cpu"))["sentences"]
    print(f"{name}: BLEU {rec['mean']['bleu']:.1f}, KL {report.get('kl')}", file=sys.stderr, flush=True)
    figures = {k: report.get(k) for k in ("rec", "kl", "neg_elbo", "nll_iw", "iw_samples", "mi", "au")}
    return {"name": name, "overrides": overrides, "run": str(run), **figures,
            "bleu": rec["mean"]["bleu"], "exact": rec["mean"]["exact"],
            "train_seconds": report["train_seconds"], "wall_seconds": wall,
            "examples": rec["examples"][:4], "samples": samples}


def checks(rows: list[dict]) -> list[dict]:
    """The demo's claim, judged by ``claims.Claims``: its rows are PTB candidates and Yelp ones, whose BLEUs are
    not comparable, so the demo (a Yelp row) is compared with a plain VAE of its own corpus in first_recipe.md."""
    out = Claims()
    base, demo = rows[0], next(r for r in rows if r["name"] == DEMO)
    out.add("the demo's settings (the library's means against posterior collapse) make its posterior decodes "
            "resemble their inputs: reconstruction BLEU at least 5x the plain demo's", demo["bleu"] >= 5 * base["bleu"],
            {"plain": base["bleu"], "demo": demo["bleu"]},
            unmeasurable="the plain demo row is PTB and the demo Yelp: BLEU is not comparable across corpora "
                         "(benchmarks/first_recipe.md compares the demo with a plain VAE of its own corpus)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench" / "demo")
    ap.add_argument("--parallel", type=int, default=2, help="candidates trained at once (one thread each)")
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--recheck", action="store_true", help="judge demo.json's claim again (no training)")
    args = ap.parse_args()
    if args.recheck:
        recheck(args.out_dir / "demo.json", lambda res: checks(res["rows"]))
        return
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = list(pool.map(lambda kv: measure(kv[0], kv[1], args.runs), CANDIDATES.items()))
    best = max((r for r in rows if r["kl"] is not None), key=lambda r: r["bleu"])  # a VAE: it has a prior
    demo = next(r for r in rows if r["name"] == DEMO)
    summary = {"machine": machine_info("cpu"), "rows": rows, "best": best["name"], "demo": DEMO,
               "checks": checks(rows)}
    write_json_atomic(args.out_dir / "demo.json", summary)
    m = summary["machine"]
    lines = ["# The quick demo: which settings show a working latent space", "",
             f"Machine: {m['cpu']}, {m['cpu_count']} CPUs ({', '.join(m['cpu_flags_simd'])}), torch {m['torch']}; "
             f"written {m['date']}. Command: `python benchmarks/demo.py --runs {shown(args.runs)} --parallel "
             f"{args.parallel}` ({args.parallel} candidates at a time, one thread each, so wall times are about "
             f"1.5x a lone run on 2 threads).", "",
             "Every candidate is `recipes/quick_ptb.yaml` (PTB, 3,000-word vocabulary, sentences of up to 25 words, "
             "LSTM "
             "VAE with 256 units and z of 16, 1,000 steps of 64 sentences) plus the overrides shown. Test split, nats "
             "per sentence; nll_iw with K=10; reconstruction BLEU (sacrebleu, 0-100) and exact matches of greedy "
             "decodes from the posterior mean of the first 500 test sentences against the inputs as the model sees "
             "them." + NOTE, "",
             "| candidate | rec | kl | neg_elbo | nll_iw (K=10) | mi | au | BLEU | exact | train s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    demo = next(r for r in rows if r["name"] == DEMO)
    def cell(v) -> str:
        return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

    for r in rows:
        figures = " | ".join(cell(r[k]) for k in ("rec", "kl", "neg_elbo", "nll_iw", "mi", "au"))
        lines.append(f"| {r['name']} | {figures} | {r['bleu']:.1f} | {100 * r['exact']:.1f}% | "
                     f"{r['train_seconds']:.0f} |")
    ptb = [r for r in rows if not r["name"].startswith("Yelp")]
    ae = max((r for r in ptb if r["kl"] is None), key=lambda r: r["bleu"])
    lines += ["", f"**The demo, `recipes/quick.yaml`, is the row \"{DEMO}\"**: reconstruction BLEU {demo['bleu']:.1f} "
              f"({100 * demo['exact']:.0f}% of sentences back exactly) with a KL of {demo['kl']:.1f} nats (a plain VAE "
              "of the same corpus, model and steps: `benchmarks/first_recipe.md`). On PTB nothing trained this "
              "briefly gives its sentences back: the best PTB VAE reaches "
              f"{max(r['bleu'] for r in ptb if r['kl'] is not None):.1f}, and even a "
              f"deterministic sequence autoencoder, which has no prior to pay, only {ae['bleu']:.1f} after "
              f"{ae['name'].split(', ')[-1] if 'steps' in ae['name'] else '1,000 steps'}: an LSTM learns to put a "
              f"25-word sentence into its code far more slowly than it learns the language model, and the encoder "
              "lags (He et al. 2019). What helps is visible in the rows: a bidirectional encoder (its summary holds "
              "the start of the sentence, where decoding begins), z at every decoder step and the bag-of-words "
              "term; a higher KL alone (free bits 2/dim) does not. Yelp's sentences are short (9 words on average), "
              "and there the same settings give sentences back within a few minutes. BLEU is not comparable across "
              "corpora: compare rows of one corpus.", ""]
    for r in rows:
        lines += [f"## {r['name']}", "", "Reconstructions (input / from the posterior mean):", ""]
        lines += [f"- {ex['input']}  \n  → {ex['mean']}" for ex in r["examples"]]
        lines += ["", "Prior samples (greedy):", "", *[f"- {x}" for x in r["samples"]], ""]
    write_text_atomic(args.out_dir / "demo.md", "\n".join(lines))
    print(f"wrote {args.out_dir / 'demo.md'}")


if __name__ == "__main__":
    main()
