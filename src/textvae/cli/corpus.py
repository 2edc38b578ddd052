"""`textvae corpus`: a corpus's statistics and a histogram of its sentence lengths."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from textvae.cli.app import AS_JSON, command, emit
from textvae.config.sections import TOKENIZERS
from textvae.data.corpus import CORPORA, default_tokenizer
from textvae.data.tokenize import check_tokenizer
from textvae.errors import TextVAEError, listed

CHAR_CORPORA = [c for c in CORPORA if default_tokenizer(c) == "char"]


@command()
def corpus(name: str = typer.Argument(..., help=f"A registered corpus ({', '.join(CORPORA)}), a folder of split "
                                                f"files or one text file."),
           tokenizer: Optional[str] = typer.Option(None, help=f"{listed(TOKENIZERS)} (default: how "
                                                              f"the corpus is stored: char for {listed(CHAR_CORPORA)}, "
                                                              "else word)."),
           lower: bool = typer.Option(False, "--lower", help="Lower-case first."),
           plot: Optional[Path] = typer.Option(None, help="Also save a histogram of sentence lengths to this PNG "
                                                          "file."),
           as_json: bool = AS_JSON) -> None:
    """Sentences, tokens, vocabulary, length quantiles and labels of each split (--plot: a length histogram)."""
    from textvae.session.corpus import corpus_stats, plot_lengths

    if plot is not None and plot.suffix.lower() != ".png":
        raise TextVAEError(f"--plot {plot}: must end in .png")
    stats = corpus_stats(name, tokenizer, lower)
    if plot is not None:
        plot_lengths(stats, plot)
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
    if plot is not None:
        text.append(f"length histogram: {plot}")
    splits = {k: {kk: vv for kk, vv in v.items() if kk != "lengths"} for k, v in stats["splits"].items()}
    emit(as_json, {**stats, "splits": splits, "plot": None if plot is None else str(plot)}, text)


@command()
def prepare(corpus: list[str] = typer.Argument(..., help="A registered corpus, a folder of train/valid/test files, "
                                                         "or any number of plain or .gz text files (split as one "
                                                         "single-file corpus)."),
            out: Path = typer.Option(..., "--out", "-o", help="The prepared folder (resumed if interrupted)."),
            tokenizer: str = typer.Option("word", help=f"{listed(TOKENIZERS)} (as data.tokenizer)."),
            lower: bool = typer.Option(False, "--lower", help="Lower-case (as data.lower)."),
            vocab_size: int = typer.Option(0, help="Most frequent words kept, specials included (0: all)."),
            min_count: int = typer.Option(1, help="Keep words seen at least this often in the training split."),
            vocab: Optional[Path] = typer.Option(None, help="Use this vocabulary file instead of building one."),
            valid_fraction: float = typer.Option(0.05, help="Files: the share of lines held out for validation."),
            test_fraction: float = typer.Option(0.05, help="Files: the share held out for test."),
            split_seed: int = typer.Option(0, help="Files: the seed of the split."),
            shard_sentences: int = typer.Option(1_000_000, help="Sentences per shard."),
            workers: int = typer.Option(1, help="Processes tokenizing (moses and penn are slow: use the cores)."),
            as_json: bool = AS_JSON) -> None:
    """Tokenize a corpus once into memory-mapped shards that recipes train from (data.corpus: the folder), for
    corpora too large for memory. Streams the text; resumes an interrupted preparation to identical files."""
    from textvae.config import DataConfig
    from textvae.data.prepared import prepare as run

    check_tokenizer(tokenizer)
    if workers < 1:
        raise TextVAEError(f"--workers: must be >= 1, got {workers}")
    cfg = DataConfig(corpus=corpus[0], tokenizer=tokenizer, lower=lower, vocab_size=vocab_size, min_count=min_count,
                     valid_fraction=valid_fraction, test_fraction=test_fraction, split_seed=split_seed)
    manifest = run(corpus, out, cfg, vocab, shard_sentences, workers)
    lines = [f"{out}: {manifest['vocab']['size']:,} words ({manifest['dtype']})"]
    for split, s in manifest["splits"].items():
        lines.append(f"  {split:<5} {s['sentences']:>12,} sentences {s['tokens']:>14,} tokens in "
                     f"{len(s['shards'])} shard(s); {s['unk']:,} <unk>")
    lines.append(f"train from it with data.corpus: {out}")
    emit(as_json, manifest, lines)
