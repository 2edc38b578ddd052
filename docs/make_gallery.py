"""Make docs/gallery.md: prior samples, posterior decodes, homotopies and sentiment arithmetic from trained runs.

    python docs/make_gallery.py --ptb runs/bench/ptb_vae --yelp runs/bench/yelp_vae [--seq-ae runs/bench/ptb_seq_ae]

Every sentence is decoded by the library (``textvae.session``); the same outputs come from the CLI commands
named in each section. Seeds are fixed, so the page is reproducible on the same weights.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import torch

from textvae import session as sessions
from textvae.atomic import write_text_atomic
from textvae.data.corpus import read_lines, split_files
from textvae.decoding import DecodeOptions
from textvae.session import Session, open_run

GREEDY = DecodeOptions(method="greedy")
HOMOTOPY_PAIRS = [  # sentences in the style of PTB (tokenized as PTB is)
    ("the company said it expects to report a loss", "analysts say the market is n't likely to rebound soon"),
    ("he said the bank 's board approved the plan", "she did n't know what to do"),
]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(esc(c) for c in row) + " |" for row in rows], ""]


def prior_section(s: Session, n: int = 6) -> list[str]:
    cols = {
        "greedy": sessions.sample(s, n, GREEDY, seed=0)["sentences"],
        "beam 15": sessions.sample(s, n, DecodeOptions(method="beam", width=15), seed=0)["sentences"],
        "sampling, top-p 0.9": sessions.sample(s, n, DecodeOptions(method="sample", top_p=0.9), seed=0)["sentences"],
    }
    stretched = sessions.sample(s, n, GREEDY, seed=0, stretch=0.1)["sentences"]
    out = ["## Samples from the prior (PTB VAE)", "",
           "z ~ N(0, I), the same six codes decoded three ways (`textvae sample RUN --method greedy|beam|sample`):", ""]
    out += _table(["#", *cols], [[str(i + 1), *(c[i] for c in cols.values())] for i in range(n)])
    out += ["Lower-probability regions (Bowman et al. 6.1): the same codes mapped through I + A, A uniform in "
            "[-0.1, 0.1], greedy (`textvae sample RUN --stretch 0.1`):", ""]
    out += [f"{i + 1}. {x}" for i, x in enumerate(stretched)] + [""]
    return out


def posterior_section(s: Session, n: int = 3, samples: int = 3) -> list[str]:
    lines = read_lines(split_files(s.recipe.data.corpus)["test"][0])
    picks = [lines[i] for i in (10, 200, 1500)][:n]
    r = sessions.reconstruct(s, picks, GREEDY, samples, seed=0, corpus=True)
    out = ["## Posterior decodes (PTB VAE, Bowman et al. Table 7)", "",
           "Greedy decodes from the posterior mean and from three samples of q(z|x) "
           "(`textvae reconstruct RUN --samples 3`):", ""]
    for ex in r["examples"]:
        out += [f"**input:** {ex['input']}", "", f"- mean: {ex['mean']}",
                *[f"- sample: {x}" for x in ex["samples"]], ""]
    return out


def homotopy_section(vae: Session, seq_ae: Session | None, steps: int = 7) -> list[str]:
    out = [f"## Homotopies (Bowman et al. 6.3{' and Table 1' if seq_ae else ''})", "",
           f"Greedy decodes of {steps} evenly spaced codes on the line between two sentences' posterior means "
           f"(`textvae interpolate RUN \"A\" \"B\" --steps {steps}`)."
           + (" The sequence autoencoder's column is Bowman's Table 1 contrast." if seq_ae else ""), ""]
    for a, b in HOMOTOPY_PAIRS:
        cols = {name: sessions.interpolate(s, a, b, steps, GREEDY)["steps"]
                for name, s in (("VAE", vae), ("sequence autoencoder", seq_ae)) if s is not None}
        rows = [[f"{p['t']:.2f}", *(c[i]["sentence"] for c in cols.values())] for i, p in enumerate(cols["VAE"])]
        out += _table(["t", *cols], rows)
    return out


def arithmetic_section(s: Session, n: int = 8) -> list[str]:
    files = split_files(s.recipe.data.corpus)
    neg_valid, pos_valid = (read_lines(f) for f in files["valid"])
    neg_test, pos_test = (read_lines(f) for f in files["test"])
    out = ["## Sentiment arithmetic (Yelp VAE, mu-Forcing 5.6)", ""]
    report = s.run_path / "report.json"
    if report.is_file():
        r = json.loads(report.read_text())
        out += [f"The Yelp VAE on its test split: rec {r['rec']:.2f}, KL {r['kl']:.2f}, mi {r['mi']:.2f} nats per "
                f"sentence, {r['au']} active units of {s.model.z_dim}, {r['epochs']} epochs.", ""]
    for i, (title, picks, sign) in enumerate((("negative -> positive", neg_test[:n], 1.0),
                                              ("positive -> negative", pos_test[:n], -1.0))):
        r = sessions.attribute_transfer(s, neg_valid, pos_valid, picks, sign, GREEDY)
        if i == 0:
            out += [f"v = mean posterior mean of the {len(pos_valid):,} positive validation sentences minus that of "
                    f"the {len(neg_valid):,} negative ones (|v| = {r['vector_norm']:.2f}); test sentences decoded "
                    "greedily from z and from z +/- v (`textvae arithmetic RUN --from NEG --to POS --apply FILE`):",
                    ""]
        out += [f"**{title}**", ""]
        out += _table(["input", "decoded from z", f"decoded from z {'+' if sign > 0 else '-'} v"],
                      [[row["read_as"], row["decoded"], row["edited"]] for row in r["rows"]])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ptb", type=Path, required=True, help="PTB VAE run")
    ap.add_argument("--seq-ae", type=Path, help="PTB sequence autoencoder run (Table 1 contrast)")
    ap.add_argument("--yelp", type=Path, help="Yelp VAE run (sentiment arithmetic)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "gallery.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ptb = open_run(args.ptb, "cpu")
    seq_ae = open_run(args.seq_ae, "cpu") if args.seq_ae else None
    runs = [f"`{args.ptb}` (`recipes/bowman2016/ptb_vae.yaml`, figures in `benchmarks/ptb.md`)"]
    if args.seq_ae:
        runs.append(f"`{args.seq_ae}` (`recipes/bowman2016/ptb_seq_ae.yaml`)")
    if args.yelp:
        runs.append(f"`{args.yelp}` (`recipes/yelp/vae.yaml`)")
    md = ["# Gallery", "",
          f"Made by `python docs/make_gallery.py` on {dt.date.today().isoformat()} from the runs {'; '.join(runs)}. "
          "<unk> is banned in every decode.", ""]
    md += prior_section(ptb) + posterior_section(ptb) + homotopy_section(ptb, seq_ae)
    if args.yelp:
        md += arithmetic_section(open_run(args.yelp, "cpu"))
    write_text_atomic(args.out, "\n".join(md))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
