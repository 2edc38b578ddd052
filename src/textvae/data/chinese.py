"""Chinese online-shopping reviews as mu-Forcing prepared COSR: segmented into words, reviews over 40 words
dropped, split 85/5/10. textvae bundles the SophonPlus reviews (``data/chinese_reviews``, see its SOURCE.md),
split once by :func:`prepare`:

    python -m textvae.data.chinese data/chinese_reviews/online_shopping_10_cats.csv data/chinese_reviews
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from textvae.data.normalize import split_text

MAX_WORDS = 40
LABELS = {"0": "neg", "1": "pos"}


def prepare(csv_path: str | Path, out: str | Path, seed: int = 0) -> dict[str, int]:
    """Read the CSV (columns cat, label, review), drop stray U+FEFF characters and empty reviews, segment each review
    with jieba (white space dropped), keep those of at most :data:`MAX_WORDS` words, shuffle with numpy's PCG64
    from ``seed`` and write 85/5/10% to ``{train,valid,test}.txt`` (words separated by spaces), ``{split}.labels``
    (neg or pos) and ``{split}.categories`` (the product category). Returns the count of each split and of the
    reviews dropped."""
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            words = split_text(row["review"].replace("\ufeff", ""), "jieba")
            if words:
                rows.append((" ".join(words), LABELS[row["label"]], row["cat"]))
    kept = [r for r in rows if len(r[0].split()) <= MAX_WORDS]
    order = np.random.default_rng(seed).permutation(len(kept))
    n_valid, n_test = round(0.05 * len(kept)), round(0.10 * len(kept))
    parts = {"valid": order[:n_valid], "test": order[n_valid : n_valid + n_test], "train": order[n_valid + n_test :]}
    out = Path(out)
    counts = {"dropped": len(rows) - len(kept)}
    for split, idx in parts.items():
        chosen = [kept[i] for i in sorted(idx.tolist())]
        for suffix, col in (("txt", 0), ("labels", 1), ("categories", 2)):
            (out / f"{split}.{suffix}").write_text("".join(f"{r[col]}\n" for r in chosen), encoding="utf-8")
        counts[split] = len(chosen)
    return counts


if __name__ == "__main__":
    print(prepare(sys.argv[1], sys.argv[2]))
