"""Make docs/gallery.md: prior samples, posterior decodes, homotopies and sentiment arithmetic from trained runs.

    python docs/make_gallery.py --run runs/quick [--seq-ae RUN] [--yelp RUN]

``--run`` is any VAE run (the README demo's by default); ``--yelp`` a Yelp VAE for the sentiment arithmetic (the
``--run`` itself when it is one). The homotopies use sentences written in the run's corpus style.

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
HOMOTOPY_PAIRS = {  # pairs of sentences in each corpus's style
    "ptb": [("the company said it expects to report a loss", "analysts say the market is n't likely to rebound soon"),
            ("he said the bank 's board approved the plan", "she did n't know what to do")],
    "yelp": [("the food was great and the staff was friendly .", "the service was slow and the soup was cold ."),
             ("i will definitely come back !", "never again .")],
}


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
    out = [f"## Samples from the prior ({s.recipe.data.corpus} VAE)", "",
           "z ~ N(0, I), the same six codes decoded three ways (`textvae sample RUN --method greedy|beam|sample`):", ""]
    out += _table(["#", *cols], [[str(i + 1), *(c[i] for c in cols.values())] for i in range(n)])
    out += ["Lower-probability regions (Bowman et al. 6.1): the same codes mapped through I + A, A uniform in "
            "[-0.1, 0.1], greedy (`textvae sample RUN --stretch 0.1`):", ""]
    out += [f"{i + 1}. {x}" for i, x in enumerate(stretched)] + [""]
    return out


def posterior_section(s: Session, n: int = 3, samples: int = 3) -> list[str]:
    lines = s.split_lines("test")
    picks = [lines[i] for i in (10, 200, 1500, 31000)[:n] if i < len(lines)]
    r = sessions.reconstruct(s, picks, GREEDY, samples, seed=0, corpus=True)
    out = [f"## Posterior decodes ({s.recipe.data.corpus} VAE, Bowman et al. Table 7)", "",
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
    for a, b in HOMOTOPY_PAIRS.get(vae.recipe.data.corpus, HOMOTOPY_PAIRS["ptb"]):
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


def intro(s: Session) -> list[str]:
    """What the run is and what its figures mean."""
    report = s.run_path / "report.json"
    if not report.is_file():
        return []
    r = json.loads(report.read_text())
    show = sessions.showcase(s, "test", n=0, bleu_sentences=500)["bleu"]
    return [f"The {s.recipe.data.corpus} VAE on its test split: rec {r['rec']:.2f} and KL {r['kl']:.2f} nats per "
            f"sentence, nll_iw {r['nll_iw']:.2f} (K={r['iw_samples']}), {r['au']} active units of {s.model.z_dim}, "
            f"{r['epochs']} epochs; greedy reconstructions of the first 500 test sentences from their posterior means "
            f"score BLEU {show['bleu']:.1f} ({100 * show['exact']:.0f}% exact). The KL is how much a sentence's code "
            "says about it: a VAE whose KL is near 0 decodes every code to much the same sentence, and its "
            "reconstructions have nothing to do with their inputs (BLEU under 2, as PTB models trained for minutes "
            f"have: `benchmarks/demo.md`). This one carries {r['kl']:.0f} nats, and its decodes share words and "
            "meaning with their inputs.", ""]


def autr_section(bench: Path) -> list[str]:
    """AUTR canvases (Fig. 2-3) made by ``benchmarks/autr.py`` (``textvae canvas``), read from its JSON."""
    if not bench.exists():
        return []
    res = json.loads(bench.read_text())
    kl = res["runs"]["autr_t40"]["kl"]
    md = ["## AUTR canvases (Shah and Barber, Fig. 2 and 3)", "",
          '`textvae canvas runs/bench/autr/autr_t40 "SENTENCE" --out docs/canvas_N.png --at 10 --at 20 --at 30 '
          "--at 40` on the reduced-scale AUTR of `benchmarks/autr.md` (PTB, T = 40, 3 epochs, "
          f"KL {kl:.1f} nats against the paper's 7.8). Top: the sentence a beam search reads off the canvas after "
          "steps 10, 20, 30 and 40, from the posterior mean of the sentence. Bottom: the cumulative attention of "
          "every slot after every step; no slot's total passes 1 (eq. 2).", ""]
    if kl < 4:
        md += [f"At this scale the latent code carries little ({kl:.1f} nats), so the canvases read as the corpus's "
               "most frequent openings whatever the sentence, shortened as the steps fill slots: the pictures show "
               "the mechanism, not the paper's sentence-specific drafts.", ""]
    for c in res["canvases"]:
        md += [f'"{c["sentence"]}":', "", f"![AUTR canvas]({Path(c['picture']).name})", ""]
    return md


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/quick"), help="a VAE run (default: the README demo's)")
    ap.add_argument("--seq-ae", type=Path, help="a sequence autoencoder run of the same corpus (Table 1 contrast)")
    ap.add_argument("--yelp", type=Path, help="a Yelp VAE run for sentiment arithmetic (default: --run if Yelp)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "gallery.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    vae = open_run(args.run, "cpu")
    seq_ae = open_run(args.seq_ae, "cpu") if args.seq_ae else None
    yelp = open_run(args.yelp, "cpu") if args.yelp else vae if vae.recipe.data.corpus == "yelp" else None
    runs = [f"`{args.run}` (`{vae.recipe.name}`)"] + ([f"`{args.seq_ae}`"] if args.seq_ae else [])
    if args.yelp:
        runs.append(f"`{args.yelp}`")
    md = ["# Gallery", "",
          f"Made by `python docs/make_gallery.py` on {dt.date.today().isoformat()} from the runs {'; '.join(runs)}. "
          "<unk> is banned in every decode.", "", *intro(vae)]
    md += prior_section(vae) + posterior_section(vae) + homotopy_section(vae, seq_ae)
    if yelp is not None:
        md += arithmetic_section(yelp)
    md += autr_section(Path(__file__).resolve().parents[1] / "benchmarks" / "autr.json")
    write_text_atomic(args.out, "\n".join(md))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
