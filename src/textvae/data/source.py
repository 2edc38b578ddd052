"""Where a split's lines come from: a prepared folder (memory-mapped shards, ``data/prepared.py``) or a text
corpus (a registered corpus, a folder of split files, one file: ``data/corpus.py``). The one place that knows
both, so neither of those modules imports the other's reader."""

from __future__ import annotations

from pathlib import Path

from textvae.data.corpus import raw_lines, raw_origin, registered_labels
from textvae.data.prepared import MANIFEST, prepared_labels, prepared_lines


def is_prepared(corpus: str) -> bool:
    """Whether ``corpus`` names a folder made by ``textvae prepare``."""
    return (Path(corpus) / MANIFEST).is_file()


def corpus_lines(cfg, split: str) -> list[str]:
    """The raw lines of a split of ``cfg.corpus`` (``cfg``: a DataConfig): a prepared folder's sentences as text,
    or a text corpus's lines (:func:`textvae.data.corpus.raw_lines`)."""
    if is_prepared(cfg.corpus):
        return prepared_lines(Path(cfg.corpus), split, cfg.tokenizer)
    return raw_lines(cfg, split)


def corpus_labels(cfg, split: str) -> list[str] | None:
    """The label of each line of a split, aligned with :func:`corpus_lines`; None for a corpus without labels."""
    if is_prepared(cfg.corpus):
        return prepared_labels(cfg.corpus, split)
    return registered_labels(cfg.corpus, split)


def line_origin(cfg, split: str, index: int) -> str:
    """Where line ``index`` of a split as :func:`corpus_lines` returns it comes from: ``file:line``, or the
    sentence's number in a prepared folder."""
    if is_prepared(cfg.corpus):
        return f"{cfg.corpus} ({split} split), sentence {index + 1}"
    return raw_origin(cfg, split, index)
