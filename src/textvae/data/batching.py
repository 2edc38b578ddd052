"""Length-bucketed batches: sentences of similar length together, batch order shuffled per epoch."""

from __future__ import annotations

from collections.abc import Sequence
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


class Batches(Sequence):
    """Batches of sentence indices as slices of one index array: ``batches[k]`` is batch k as a list of ints.
    Memory is 8 bytes a sentence (lists of Python ints cost about 75), which matters at tens of millions of
    sentences. ``share(rank, world)`` is one rank's part of every batch (``textvae.distributed.rank_batches``)."""

    def __init__(self, order: np.ndarray, size: int, perm: np.ndarray | None = None, rank: int = 0,
                 world: int = 1) -> None:
        self.order, self.size, self.rank, self.world = order, size, rank, world
        self.perm = np.arange(-(-len(order) // size)) if perm is None else perm  # batch k is slice perm[k]

    def __len__(self) -> int:
        return len(self.perm)

    def indices(self, k: int) -> np.ndarray:
        """Batch k's sentence indices (int64 array; this rank's part of it under ``share``)."""
        j = int(self.perm[k])
        whole = self.order[j * self.size : (j + 1) * self.size]
        return whole if self.world == 1 else np.array_split(whole, self.world)[self.rank]

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(f"batch {k} of {len(self)}")
        return self.indices(k % len(self)).tolist()

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None

    def share(self, rank: int, world: int) -> Batches:
        """Part ``rank`` of ``world`` contiguous near-equal parts of every batch; a batch with fewer sentences than
        ``world`` (the last slice of the order, the only short one) is left out."""
        sizes = np.minimum(self.size, len(self.order) - self.perm * self.size)
        return Batches(self.order, self.size, self.perm[sizes >= world], rank, world)


def bucket_order(lengths, batch_size: int, shuffle: bool, seed: int = 0, epoch: int = 0) -> Batches:
    """Split sentence indices into batches of similar length (``lengths``: a list or array, one per sentence).

    With ``shuffle`` the tie order within a length and the batch order are random but fixed by (seed, epoch),
    so a resumed run sees exactly the same batches. Without it batches go from short to long.
    """
    n = len(lengths)
    lens = torch.as_tensor(np.asarray(lengths), dtype=torch.long)
    if not shuffle:
        return Batches(torch.sort(lens, stable=True).indices.numpy(), batch_size)
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    perm = torch.randperm(n, generator=g)
    order = perm[torch.sort(lens[perm], stable=True).indices]
    return Batches(order.numpy(), batch_size, torch.randperm(-(-n // batch_size), generator=g).numpy())


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
