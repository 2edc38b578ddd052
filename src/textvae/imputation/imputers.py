"""Imputers: fill the blanks of sentences with a model, batched (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from textvae.data.batching import make_batch
from textvae.data.vocab import EOS, UNK
from textvae.decoding.beam import beam_search
from textvae.errors import BadValue, listed
from textvae.models.decoders import capabilities
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
    hyps = beam_search(model.decoder, z, width, max_len=forced.shape[1], batch_size=len(sentences), ban_unk=ban_unk,
                       forced=forced)
    return hyps.best, hyps.scores[:, 0]


class ICMImputer:
    """Approximate iterated conditional modes (Bowman et al. 2016, section 5): ``iterations`` rounds of z = mode
    of q(z|x) and a constrained beam search of ``width``; the completion with the best log p(x | z) + log p(z) is
    kept. For a language model (no z) one round, a constrained beam search. ``batch_size``: sentences x width
    decoded at once."""

    def __init__(self, iterations: int = 3, width: int = 5, batch_size: int = 256):
        if iterations < 1 or width < 1:
            raise BadValue("iterations/width", f"must be >= 1, got {iterations} and {width}")
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


class EMImputer:
    """AUTR's EM-like imputation (Algorithm 2): from a random guess of the missing words, alternate z ~ q(z|x) at
    the current sentence (E-like) and a constrained beam search of ``width`` for the missing words under p(x | z)
    (M-like, one sample of z: the mean over S samples of log p(x_vis, x_miss | z_s) that the paper writes is one
    beam per sample), until the completion stops changing or ``iterations`` rounds; ``restarts`` random
    initialisations (the paper: 50), keeping the completion with the best bound: the ELBO log p(x | z) - KL
    averaged over ``elbo_samples`` draws of z (nats). Random guesses and draws come from ``seed``: the same call
    gives the same imputations. Needs a model with a Gaussian latent."""

    def __init__(self, iterations: int = 10, width: int = 15, batch_size: int = 256, restarts: int = 50,
                 elbo_samples: int = 5, seed: int = 0):
        if min(iterations, width, restarts, elbo_samples) < 1:
            raise BadValue("iterations/width/restarts/elbo_samples", "must be >= 1")
        self.iterations, self.width, self.batch_size = iterations, width, batch_size
        self.restarts, self.elbo_samples, self.seed = restarts, elbo_samples, seed
        self.name = f"em {restarts} restarts x up to {iterations} rounds of beam {width}"

    def __call__(self, model: TextVAE, sentences: list[Blanked]) -> list[Imputed]:
        if not model.is_stochastic:
            raise BadValue("method", "em samples z ~ q(z|x): it needs a VAE (model.type vae)")
        out: list[Imputed | None] = [None] * len(sentences)
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        rows = max(1, self.batch_size // self.width)
        gen = torch.Generator(device=model.device).manual_seed(self.seed)
        with eval_mode(model), task(f"impute ({self.name})", len(sentences) * self.restarts,
                                    "sentence restarts") as progress:
            for start in range(0, len(order), rows):
                idx = order[start : start + rows]
                chunk = [sentences[i] for i in idx]
                for restart in range(1, self.restarts + 1):
                    for i, result in zip(idx, self._restart(model, chunk, gen, restart), strict=True):
                        if out[i] is None or result.score > out[i].score:
                            out[i] = result
                    progress.advance(len(idx))
        return out

    def _restart(self, model: TextVAE, sentences: list[Blanked], gen: torch.Generator, restart: int) -> list[Imputed]:
        n_vocab = model.decoder.vocab_size
        guess = torch.randint(EOS + 1, n_vocab, (sum(w is None for s in sentences for w in s),), generator=gen,
                              device=gen.device).tolist()  # real words only: ids after the specials
        it = iter(guess)
        current = [[next(it) if w is None else w for w in s] for s in sentences]
        for _ in range(self.iterations):
            batch = make_batch(current, list(range(len(current)))).to(model.device)
            mu, logvar = model.posterior(batch)
            z = model.latent.sample(mu, logvar, generator=gen)
            new, _ = constrained_beam(model, z, sentences, self.width)
            new = [list(x) for x in new]
            if new == current:
                break
            current = new
        batch = make_batch(current, list(range(len(current)))).to(model.device)
        elbo = self._elbo(model, batch, gen)
        return [Imputed(ids, float(v), restart) for ids, v in zip(current, elbo.tolist(), strict=True)]

    def _elbo(self, model: TextVAE, batch, gen: torch.Generator) -> torch.Tensor:
        """log p(x | z) - KL(q(z|x) || p(z)) per sentence, z ~ q(z|x) averaged over ``elbo_samples`` draws."""
        mu, logvar = model.posterior(batch)
        kl = model.latent.kl(mu, logvar).sum(-1)
        rec = torch.stack([model.rec(batch, model.latent.sample(mu, logvar, generator=gen))
                           for _ in range(self.elbo_samples)]).mean(0)
        return (-rec - kl).float().cpu()


IMPUTERS = {"icm": ICMImputer, "beam": lambda width=15, batch_size=256: ICMImputer(1, width, batch_size),
            "em": EMImputer}
"""Imputer name -> builder (keyword arguments: iterations, width, batch_size as the imputer takes them)."""


def make_imputer(name: str, **options) -> Imputer:
    """The imputer ``name`` with ``options``; a name not in :data:`IMPUTERS` is a ValueError."""
    if name not in IMPUTERS:
        raise BadValue("method", f"must be {listed(IMPUTERS)}, got '{name}'")
    return IMPUTERS[name](**options)


def default_method(model: TextVAE) -> str:
    """The papers' imputer for a model: em for AUTR (a canvas decoder), icm for other models with a code, beam for
    a language model."""
    if not model.has_latent:
        return "beam"
    kind = capabilities(model.decoder)
    return "em" if kind and kind.canvas and model.is_stochastic else "icm"


def default_imputer(model: TextVAE) -> Imputer:
    """The papers' settings: Bowman et al.'s 3 iterations of beam 5 for a model with a code and beam 15 for a
    language model (the same computation); AUTR's EM-like imputation with 50 restarts of beam 15 for AUTR."""
    method = default_method(model)
    if method == "em":
        return EMImputer()
    return ICMImputer(3, 5) if method == "icm" else ICMImputer(1, 15)
