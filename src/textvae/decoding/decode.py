"""One entry point for every decoding method, chunked so that any number of codes fits in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from textvae.decoding.beam import beam_search
from textvae.decoding.greedy import greedy_decode
from textvae.decoding.sampling import sample_decode
from textvae.errors import BadValue, listed
from textvae.models.interface import Decoder
from textvae.progress import task

METHODS = ("greedy", "beam", "sample")
"""The decoding methods: the one list every option and message reads."""
Method = Literal["greedy", "beam", "sample"]
assert Method.__args__ == METHODS


@dataclass(kw_only=True)
class DecodeOptions:
    """How to turn codes into sentences. ``method``: greedy (Bowman's deterministic decoding), beam (width 15
    as in AUTR and AutoGen), or sample (with temperature / top-k / top-p). ``batch_size``: codes decoded at
    once (a beam uses batch_size x width rows). Built by keyword: ``DecodeOptions(method="beam", width=5)``."""

    method: Method = "greedy"
    max_len: int = 0
    """Longest decode in tokens; 0: the decoder's own length where it has one (fixed-length decoders), else
    50 (a Session makes it 200 for character runs)."""
    ban_unk: bool = True
    width: int = 15
    length_penalty: float = 0.0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 256


def max_steps(decoder: Decoder, max_len: int, method: str = "greedy") -> int:
    """``max_len`` clamped to the decoder's own limit (``decoder.max_len`` positions, </s> counted; None:
    unbounded); 0: that limit, or 50 without one. Greedy and sampling count the words they emit (</s> not
    counted: at most limit - 1 of them), beam search counts positions (</s> included)."""
    limit = decoder.max_len
    if limit is not None and method != "beam":
        limit -= 1
    if max_len <= 0:
        return 50 if limit is None else limit
    return max_len if limit is None else min(max_len, limit)


def decode(decoder: Decoder, z: torch.Tensor | None, opts: DecodeOptions, n: int = 1,
           forced: torch.Tensor | None = None) -> list[list[int]]:
    """Sentences (token ids, no </s>) decoded from codes z (N, Z), or ``n`` sentences of a language model (no z).

    ``forced`` (N, T) long: the token sentence i must have at position t (0-based; </s> allowed; -1 where free),
    for constrained decoding (imputation). Beam search returns the best sentence that satisfies every forced
    token; greedy and sampling emit the forced tokens; no method ends a sentence before its last forced token.
    ``opts.max_len`` is clamped to the decoder's ``max_len``."""
    gen = torch.Generator(device=z.device if z is not None else next(decoder.parameters()).device)
    gen.manual_seed(opts.seed)
    total = z.shape[0] if z is not None else n
    if forced is not None and forced.shape[0] != total:
        raise ValueError(f"forced has {forced.shape[0]} rows for {total} sentences")
    max_len = max_steps(decoder, opts.max_len, opts.method)
    step = max(1, opts.batch_size // opts.width) if opts.method == "beam" else opts.batch_size
    out: list[list[int]] = []
    with task(f"decode ({opts.method})", total) as progress:
        for i in range(0, total, step):
            out += _decode_chunk(decoder, z, forced, opts, gen, max_len, i, min(step, total - i))
            progress.advance(min(step, total - i))
    return out


def _decode_chunk(decoder: Decoder, z: torch.Tensor | None, forced: torch.Tensor | None, opts: DecodeOptions,
                  gen: torch.Generator, max_len: int, i: int, rows: int) -> list[list[int]]:
    """Sentences i .. i + rows of a decode."""
    zi = z[i : i + rows] if z is not None else None
    fi = forced[i : i + rows] if forced is not None else None
    if opts.method == "greedy":
        return greedy_decode(decoder, zi, max_len, rows, opts.ban_unk, fi)
    if opts.method == "beam":
        return beam_search(decoder, zi, opts.width, max_len, rows, opts.length_penalty, opts.ban_unk, fi).best
    if opts.method == "sample":
        return sample_decode(decoder, zi, max_len, rows, opts.temperature, opts.top_k, opts.top_p, opts.ban_unk, gen,
                             fi)
    raise BadValue("method", f"must be {listed(METHODS)}, got {opts.method!r}")
