"""`textvae corpus`: a corpus's statistics and a histogram of its sentence lengths."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from textvae.cli.app import AS_JSON, command, emit
from textvae.errors import TextVAEError


@command()
def corpus(name: str = typer.Argument(..., help="A registered corpus (ptb, yelp, tweets, chinese_reviews), a "
                                                "folder of split files or one text file."),
           tokenizer: Optional[str] = typer.Option(None, help="word, char, moses, penn or jieba (default: how "
                                                              "the corpus is stored: char for tweets, else word)."),
           lower: bool = typer.Option(False, "--lower", help="Lower-case first."),
           plot: Optional[Path] = typer.Option(None, help="Histogram of sentence lengths (PNG; default "
                                                          "NAME_lengths.png)."),
           as_json: bool = AS_JSON) -> None:
    """Sentences, tokens, vocabulary, length quantiles and labels of each split; saves a length histogram."""
    from textvae.session.corpus import corpus_stats, plot_lengths

    out = plot or Path(f"{Path(name).name}_lengths.png")
    if out.suffix.lower() != ".png":
        raise TextVAEError(f"--plot {out}: must end in .png")
    stats = corpus_stats(name, tokenizer, lower)
    plot_lengths(stats, out)
    text = [f"{name} ({stats['tokenizer']} tokens)"]
    for split, r in stats["splits"].items():
        q = r["length"]
        line = (f"  {split:<5} {r['sentences']:>9,} sentences {r['tokens']:>11,} tokens {r['distinct']:>8,} distinct"
                f"   length median {q['median']:.0f}, 95% {q['q95']:.0f}, max {q['max']:.0f}")
        if "distinct_3plus" in r:
            line += f"; {r['distinct_3plus']:,} tokens seen 3+ times"
        text.append(line)
        if "labels" in r:
            text.append("        labels: " + ", ".join(f"{k} {v:,}" for k, v in r["labels"].items()))
    text.append(f"length histogram: {out}")
    emit(as_json, {**stats, "splits": {k: {kk: vv for kk, vv in v.items() if kk != "lengths"}
                                       for k, v in stats["splits"].items()}, "plot": str(out)}, text)
