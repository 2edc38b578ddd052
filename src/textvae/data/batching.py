"""Length-bucketed batches: sentences of similar length together, batch order shuffled per epoch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from textvae.data.vocab import BOS, EOS, PAD


@dataclass
class Batch:
    """A padded batch. ``inp`` = <bos> x_1..x_n, ``tgt`` = x_1..x_n <eos>, both (B, L) with L = max n + 1;
    ``lengths`` (B,) = n + 1 (predicted tokens); ``index`` (B,) = positions in the split."""

    inp: torch.Tensor
    tgt: torch.Tensor
    lengths: torch.Tensor
    index: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, L) bool, True on real (non-padding) target positions."""
        return self.tgt != PAD

    @property
    def size(self) -> int:
        return self.tgt.shape[0]

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in (self.inp, self.tgt, self.lengths, self.index)))

    def repeat(self, k: int) -> Batch:
        """Each sentence repeated k times in a row: (B*k, L), sentence-major."""
        return Batch(*(t.repeat_interleave(k, dim=0) for t in (self.inp, self.tgt, self.lengths, self.index)))


def make_batch(seqs: list[list[int]], index: list[int]) -> Batch:
    """Pad sentences (ids without specials) into a Batch."""
    lengths = torch.tensor([len(s) + 1 for s in seqs], dtype=torch.long)
    L = int(lengths.max())
    inp = torch.full((len(seqs), L), PAD, dtype=torch.long)
    tgt = torch.full((len(seqs), L), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        n = len(s)
        t = torch.tensor(s, dtype=torch.long)
        inp[i, 0] = BOS
        inp[i, 1 : n + 1] = t
        tgt[i, :n] = t
        tgt[i, n] = EOS
    return Batch(inp, tgt, lengths, torch.tensor(index, dtype=torch.long))


def bucket_order(lengths: list[int], batch_size: int, shuffle: bool, seed: int = 0, epoch: int = 0) -> list[list[int]]:
    """Split sentence indices into batches of similar length.

    With ``shuffle`` the tie order within a length and the batch order are random but fixed by (seed, epoch),
    so a resumed run sees exactly the same batches. Without it batches go from short to long.
    """
    n = len(lengths)
    lens = torch.as_tensor(np.asarray(lengths), dtype=torch.long)
    if shuffle:
        g = torch.Generator().manual_seed(seed * 100003 + epoch)
        perm = torch.randperm(n, generator=g)
        order = perm[torch.sort(lens[perm], stable=True).indices]
    else:
        g = None
        order = torch.sort(lens, stable=True).indices
    batches = [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]
    if shuffle:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
    return batches


def iterate_batches(seqs: list[list[int]], batches: list[list[int]], start: int = 0):
    """Yield (position, Batch) for ``batches[start:]``."""
    for pos in range(start, len(batches)):
        idx = batches[pos]
        yield pos, make_batch([seqs[i] for i in idx], idx)


def iterate_steps(seqs, batches: list[list[int]], parts: int = 1, start: int = 0):
    """Yield (position, [Batch, ...]) for ``batches[start:]``, each split into ``parts`` contiguous near-equal
    Batches (gradient accumulation; fewer when a batch has fewer sentences)."""
    for pos in range(start, len(batches)):
        idx = batches[pos]
        if parts == 1:
            yield pos, [make_batch([seqs[i] for i in idx], idx)]
            continue
        chunks = [c.tolist() for c in np.array_split(np.asarray(idx), min(parts, len(idx)))]
        yield pos, [make_batch([seqs[i] for i in c], c) for c in chunks]
