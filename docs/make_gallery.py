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

from textvae.analysis import attribute_vector, homotopy, prior_codes
from textvae.atomic import write_text_atomic
from textvae.data.corpus import read_lines, split_files
from textvae.decoding import DecodeOptions
from textvae.session import Session, open_run

GREEDY = DecodeOptions("greedy")
HOMOTOPY_PAIRS = [  # sentences in the style of PTB (tokenized as PTB is)
    ("the company said it expects to report a loss", "analysts say the market is n't likely to rebound soon"),
    ("he said the bank 's board approved the plan", "she did n't know what to do"),
]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(esc(c) for c in row) + " |" for row in rows], ""]


def prior_section(s: Session, n: int = 6) -> list[str]:
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    z = prior_codes(n, s.model.z_dim, g()).to(s.device)
    cols = {
        "greedy": s.decode(z, GREEDY),
        "beam 15": s.decode(z, DecodeOptions("beam", width=15)),
        "sampling, top-p 0.9": s.decode(z, DecodeOptions("sample", top_p=0.9, seed=0)),
    }
    stretched = s.decode(prior_codes(n, s.model.z_dim, g(), stretch=0.1).to(s.device), GREEDY)
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
    mu, logvar = s.codes(picks)
    g = torch.Generator(device=s.device).manual_seed(0)
    drawn = [s.decode(s.model.latent.sample(mu, logvar, generator=g), GREEDY) for _ in range(samples)]
    mean = s.decode(mu, GREEDY)
    out = ["## Posterior decodes (PTB VAE, Bowman et al. Table 7)", "",
           "Greedy decodes from the posterior mean and from three samples of q(z|x) "
           "(`textvae reconstruct RUN --samples 3`):", ""]
    for i, x in enumerate(picks):
        out += [f"**input:** {s.text(s.ids(x))}", "", f"- mean: {mean[i]}",
                *[f"- sample: {d[i]}" for d in drawn], ""]
    return out


def homotopy_section(vae: Session, seq_ae: Session | None, steps: int = 7) -> list[str]:
    out = [f"## Homotopies (Bowman et al. 6.3{' and Table 1' if seq_ae else ''})", "",
           f"Greedy decodes of {steps} evenly spaced codes on the line between two sentences' posterior means "
           f"(`textvae interpolate RUN \"A\" \"B\" --steps {steps}`)."
           + (" The sequence autoencoder's column is Bowman's Table 1 contrast." if seq_ae else ""), ""]
    for a, b in HOMOTOPY_PAIRS:
        cols = {}
        for name, s in (("VAE", vae), ("sequence autoencoder", seq_ae)):
            if s is not None:
                z, _ = s.codes([a, b])
                cols[name] = s.decode(homotopy(z[0], z[1], steps), GREEDY)
        ts = torch.linspace(0, 1, steps).tolist()
        out += _table(["t", *cols], [[f"{t:.2f}", *(c[i] for c in cols.values())] for i, t in enumerate(ts)])
    return out


def arithmetic_section(s: Session, n: int = 8) -> list[str]:
    files = split_files(s.recipe.data.corpus)
    neg_valid, pos_valid = (read_lines(f) for f in files["valid"])
    neg_test, pos_test = (read_lines(f) for f in files["test"])
    z_neg, _ = s.codes(neg_valid)
    z_pos, _ = s.codes(pos_valid)
    vec = attribute_vector(z_neg, z_pos)
    out = ["## Sentiment arithmetic (Yelp VAE, mu-Forcing 5.6)", ""]
    report = s.run_path / "report.json"
    if report.is_file():
        r = json.loads(report.read_text())
        out += [f"The Yelp VAE on its test split: rec {r['rec']:.2f}, KL {r['kl']:.2f}, mi {r['mi']:.2f} nats per "
                f"sentence, {r['au']} active units of {s.model.z_dim}, {r['epochs']} epochs.", ""]
    out += [f"v = mean posterior mean of the {len(pos_valid):,} positive validation sentences minus that of the "
            f"{len(neg_valid):,} negative ones (|v| = {float(vec.norm()):.2f}); test sentences decoded greedily "
            "from z and from z +/- v (`textvae arithmetic RUN --from NEG --to POS --apply FILE`):", ""]
    for title, picks, sign in (("negative -> positive", neg_test[:n], 1.0),
                               ("positive -> negative", pos_test[:n], -1.0)):
        z, _ = s.codes(picks)
        before, after = s.decode(z, GREEDY), s.decode(z + sign * vec, GREEDY)
        out += [f"**{title}**", ""]
        out += _table(["input", "decoded from z", f"decoded from z {'+' if sign > 0 else '-'} v"],
                      [[s.text(s.ids(x)), b, a] for x, b, a in zip(picks, before, after, strict=True)])
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
