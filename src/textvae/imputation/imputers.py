"""Imputers: fill the blanks of sentences with a model, batched (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from textvae.data.batching import make_batch
from textvae.data.vocab import EOS, UNK
from textvae.decoding.beam import beam_search
from textvae.models.latent import GaussianLatent
from textvae.models.vae import TextVAE, eval_mode
from textvae.progress import task

Blanked = list[int | None]
"""A sentence in the model's order: token ids, None where a word is missing."""


@dataclass
class Imputed:
    """A completed sentence: ``ids`` (the model's order), ``score`` = log p(x | z) + log p(z) in nats at the
    imputer's final z (log p(x) for a language model), ``iteration`` (1-based) that produced it."""

    ids: list[int]
    score: float
    iteration: int = 1


class Imputer(Protocol):
    """Fills every blank of each sentence with one word; visible words stay as they are."""

    name: str

    def __call__(self, model: TextVAE, sentences: list[Blanked]) -> list[Imputed]: ...


def _forced(sentences: list[Blanked]) -> torch.Tensor:
    """(B, max n + 1): the visible words, -1 at the blanks, </s> right after each sentence."""
    forced = torch.full((len(sentences), max(len(s) for s in sentences) + 1), -1, dtype=torch.long)
    for i, s in enumerate(sentences):
        forced[i, : len(s)] = torch.tensor([-1 if w is None else w for w in s], dtype=torch.long)
        forced[i, len(s)] = EOS
    return forced


@torch.no_grad()
def constrained_beam(model: TextVAE, z: torch.Tensor | None, sentences: list[Blanked], width: int,
                     ban_unk: bool = True) -> tuple[list[list[int]], torch.Tensor]:
    """The best completion of each sentence under p(x | z) (z (B, Z), or None for a language model) by a beam
    search of ``width`` forced to the visible words and to each sentence's length: the completions (ids) and
    their log p(x | z) (B,), nats. A blank is never filled with <unk> when ``ban_unk``."""
    forced = _forced(sentences).to(model.device)
    hyps = beam_search(model, z, width, max_len=forced.shape[1], batch_size=len(sentences), ban_unk=ban_unk,
                       forced=forced)
    return hyps.best, hyps.scores[:, 0]


class ICMImputer:
    """Approximate iterated conditional modes (Bowman et al. 2016, section 5): ``iterations`` rounds of z = mode
    of q(z|x) and a constrained beam search of ``width``; the completion with the best log p(x | z) + log p(z) is
    kept. For a language model (no z) one round, a constrained beam search. ``batch_size``: sentences x width
    decoded at once."""

    def __init__(self, iterations: int = 3, width: int = 5, batch_size: int = 256):
        if iterations < 1 or width < 1:
            raise ValueError(f"iterations and width must be >= 1, got {iterations} and {width}")
        self.iterations, self.width, self.batch_size = iterations, width, batch_size
        self.name = f"icm {iterations}x beam {width}" if iterations > 1 else f"beam {width}"
        self.trace: list[dict] | None = None  # set to [] to record each round of each chunk: the input index of
        # its rows, z, the completions and their log p(x|z)

    def __call__(self, model: TextVAE, sentences: list[Blanked]) -> list[Imputed]:
        out: list[Imputed | None] = [None] * len(sentences)
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))  # similar lengths together
        rows = max(1, self.batch_size // self.width)
        with eval_mode(model), task(f"impute ({self.name})", len(sentences)) as progress:
            for start in range(0, len(order), rows):
                idx = order[start : start + rows]
                for i, result in zip(idx, self._chunk(model, [sentences[i] for i in idx], idx), strict=True):
                    out[i] = result
                progress.advance(len(idx))
        return out

    def _chunk(self, model: TextVAE, sentences: list[Blanked], index: list[int]) -> list[Imputed]:
        current = [[UNK if w is None else w for w in s] for s in sentences]
        best: list[Imputed | None] = [None] * len(sentences)
        rounds = self.iterations if model.has_latent else 1
        for k in range(1, rounds + 1):
            z = prior = None
            if model.has_latent:
                batch = make_batch(current, list(range(len(current)))).to(model.device)
                z, _ = model.posterior(batch)  # the mode of q(z|x): its mean
                prior = GaussianLatent.log_prior(z) if model.is_stochastic else torch.zeros(len(current))
            current, log_px = constrained_beam(model, z, sentences, self.width)
            score = log_px.float().cpu() + (prior.float().cpu() if prior is not None else 0.0)
            if self.trace is not None:
                self.trace.append({"index": index, "z": z, "ids": [list(x) for x in current],
                                   "log_px": log_px.float().cpu()})
            for i, (ids, value) in enumerate(zip(current, score.tolist(), strict=True)):
                if best[i] is None or value > best[i].score:
                    best[i] = Imputed(list(ids), value, k)
        return best


IMPUTERS = {"icm": ICMImputer, "beam": lambda width=15, batch_size=256: ICMImputer(1, width, batch_size)}
"""Imputer name -> builder (keyword arguments: iterations, width, batch_size as the imputer takes them)."""


def make_imputer(name: str, **options) -> Imputer:
    """The imputer ``name`` with ``options``; a name not in :data:`IMPUTERS` is a ValueError."""
    if name not in IMPUTERS:
        raise ValueError(f"--method: must be one of {', '.join(IMPUTERS)}, got '{name}'")
    return IMPUTERS[name](**options)


def default_imputer(model: TextVAE) -> Imputer:
    """Bowman et al.'s settings, the same computation for both: 3 iterations of beam 5 for a model with a code,
    beam 15 for a language model."""
    return ICMImputer(3, 5) if model.has_latent else ICMImputer(1, 15)
