"""Data: tokenizers, vocabulary, corpora and length-bucketed batches."""

from textvae.data.batching import Batch, bucket_order, iterate_batches, make_batch
from textvae.data.corpus import (
    CORPORA,
    Split,
    encode_split,
    read_lines,
    read_split,
    split_files,
    tokenize_lines,
)
from textvae.data.source import corpus_lines
from textvae.data.vocab import BOS, EOS, PAD, UNK, Vocab

__all__ = [
    "BOS", "CORPORA", "EOS", "PAD", "UNK", "Batch", "Split", "Vocab", "bucket_order", "encode_split",
    "corpus_lines", "iterate_batches", "make_batch", "read_lines", "read_split", "split_files", "tokenize_lines",
]
