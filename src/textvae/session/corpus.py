"""A corpus at a glance (``textvae corpus``): sizes, vocabulary, sentence lengths and labels of each split, as
data, and a histogram of the lengths."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from textvae.config import DataConfig
from textvae.data.corpus import CORPORA, SPLITS, default_tokenizer, tokenize_lines
from textvae.data.source import corpus_labels, corpus_lines
from textvae.data.tokenize import check_tokenizer


def corpus_stats(corpus: str, tokenizer: str | None = None, lower: bool = False) -> dict:
    """Per split of ``corpus`` (a registered name, a folder of splits or one text file): sentences, tokens,
    distinct tokens, the length quantiles (tokens a sentence: min, 25%, median, 75%, 95%, max, mean) and the label
    counts of a labelled corpus; for the training split also the tokens seen at least 3 times. ``lengths`` keeps
    every sentence's length for the histogram."""
    kind = tokenizer or default_tokenizer(corpus)
    check_tokenizer(kind)
    cfg = DataConfig(corpus=corpus, tokenizer=kind, lower=lower)
    out = {"corpus": corpus, "tokenizer": kind, "registered": corpus in CORPORA, "splits": {}}
    for split in SPLITS:
        tokens = tokenize_lines(corpus_lines(cfg, split), kind, lower)
        lengths = np.array([len(t) for t in tokens])
        counts = Counter(w for t in tokens for w in t)
        q = np.percentile(lengths, [0, 25, 50, 75, 95, 100]).tolist()
        row = {"sentences": len(tokens), "tokens": int(lengths.sum()), "distinct": len(counts),
               "length": dict(zip(("min", "q25", "median", "q75", "q95", "max"), q, strict=True)) |
               {"mean": float(lengths.mean())}, "lengths": lengths.tolist()}
        if split == "train":
            row["distinct_3plus"] = sum(1 for c in counts.values() if c >= 3)
        labels = corpus_labels(cfg, split)
        if labels is not None:
            row["labels"] = dict(sorted(Counter(labels).items()))
        out["splits"][split] = row
    return out


def plot_lengths(stats: dict, path: Path) -> Path:
    """Histograms of the sentence lengths of each split, to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textvae.atomic import write_atomic

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    top = max(r["length"]["max"] for r in stats["splits"].values())
    bins = np.arange(0, top + 2) if top <= 200 else 100
    for split, r in stats["splits"].items():
        ax.hist(r["lengths"], bins=bins, histtype="step", density=True, label=f"{split} ({r['sentences']:,})")
    ax.set(title=f"{stats['corpus']}: tokens a sentence ({stats['tokenizer']} tokens)", xlabel="length",
           ylabel="share of sentences")
    ax.legend()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path
