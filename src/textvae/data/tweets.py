"""Tweets as Semeniuta et al. 2017 prepared theirs: user names become ``@userid``, links become ``url``, and
tweets longer than the model's sample (128 characters with </s>) are left out.

Their tweets were never released; textvae bundles the Twitter US Airline Sentiment tweets in their place
(``data/twitter_us_airline``, see its SOURCE.md), split once by :func:`prepare`:

    python -m textvae.data.tweets data/twitter_us_airline/Tweets.csv data/twitter_us_airline
"""

from __future__ import annotations

import csv
import html
import re
import sys
from pathlib import Path

import numpy as np

USER = re.compile(r"@\w+")
LINK = re.compile(r"https?://\S+|www\.\S+")
MAX_CHARS = 127
"""Characters a kept tweet may have: with </s>, the 128 positions of the paper's tweet model."""
LABELS = ("negative", "neutral", "positive")


def clean_tweet(text: str) -> str:
    """``text`` with HTML entities decoded (``&amp;`` -> ``&``), user names -> ``@userid``, links -> ``url`` and
    runs of white space (new lines included) -> one space."""
    text = LINK.sub("url", html.unescape(text))
    return " ".join(USER.sub("@userid", text).split())


def prepare(csv_path: str | Path, out: str | Path, seed: int = 0) -> dict[str, int]:
    """Read the CSV (columns tweet_id, airline_sentiment, text), keep the first row of each tweet id, clean every
    tweet, drop the empty ones and those over :data:`MAX_CHARS`, shuffle with numpy's PCG64 from ``seed`` and write
    80/10/10% to ``{train,valid,test}.txt`` (a tweet a line) and ``{split}.labels`` (its sentiment a line).
    Returns the number of tweets of each split and of those dropped."""
    seen, tweets = set(), []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["tweet_id"] in seen:
                continue
            seen.add(row["tweet_id"])
            tweets.append((clean_tweet(row["text"]), row["airline_sentiment"]))
    kept = [t for t in tweets if t[0] and len(t[0]) <= MAX_CHARS]
    order = np.random.default_rng(seed).permutation(len(kept))
    n_valid = n_test = len(kept) // 10
    parts = {"valid": order[:n_valid], "test": order[n_valid : n_valid + n_test], "train": order[n_valid + n_test :]}
    out = Path(out)
    counts = {"dropped": len(tweets) - len(kept)}
    for split, idx in parts.items():
        rows = [kept[i] for i in sorted(idx.tolist())]
        (out / f"{split}.txt").write_text("".join(f"{t}\n" for t, _ in rows), encoding="utf-8")
        (out / f"{split}.labels").write_text("".join(f"{lab}\n" for _, lab in rows), encoding="utf-8")
        counts[split] = len(rows)
    return counts


if __name__ == "__main__":
    print(prepare(sys.argv[1], sys.argv[2]))
