"""Derive textvae's Yelp splits from the Shen et al. (2017) files (see SOURCE.md):

    python data/yelp_sentiment_shen2017/make_splits.py ../shared/data/yelp_sentiment_shen2017

train.{0,1}.txt = sentiment.test.{0,1}; valid.{0,1}.txt = the first half of sentiment.dev.{0,1};
test.{0,1}.txt = the second half. Lines are copied unchanged (.0 negative, .1 positive)."""

import sys
from pathlib import Path

src, out = Path(sys.argv[1]), Path(__file__).resolve().parent
for label in (0, 1):
    (out / f"train.{label}.txt").write_bytes((src / f"sentiment.test.{label}").read_bytes())
    dev = (src / f"sentiment.dev.{label}").read_bytes().decode("utf-8").splitlines(keepends=True)
    half = len(dev) // 2
    (out / f"valid.{label}.txt").write_text("".join(dev[:half]), encoding="utf-8")
    (out / f"test.{label}.txt").write_text("".join(dev[half:]), encoding="utf-8")
