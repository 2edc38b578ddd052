"""A trained run reopened for analysis: its model, and the way between text and token ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from textvae.analysis.codes import posterior_codes, prior_codes
from textvae.config import Recipe
from textvae.data.tokenize import detokenize, tokenize
from textvae.data.vocab import Vocab
from textvae.decoding import DecodeOptions, decode
from textvae.errors import TextVAEError
from textvae.models.vae import TextVAE
from textvae.pipeline import load_run


@dataclass
class Session:
    """A reopened run and how to move between text and token ids: ``ids(line)`` tokenizes as the run's recipe
    does (unknown words -> <unk>), ``text(ids)`` joins tokens back, ``codes(lines)`` gives the posterior means
    and log-variances (N, Z) on the run's device, ``decode(z, opts)`` the sentences of codes."""

    recipe: Recipe
    vocab: Vocab
    model: TextVAE
    device: str
    run_path: Path

    def ids(self, line: str) -> list[int]:
        return self.vocab.encode(tokenize(line, self.recipe.data.tokenizer, self.recipe.data.lower))

    def text(self, ids: list[int]) -> str:
        return detokenize(self.vocab.decode(ids), self.recipe.data.tokenizer)

    def codes(self, lines: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.model.has_latent:
            raise TextVAEError("this run is an RNNLM: it has no latent code")
        mu, logvar = posterior_codes(self.model, [self.ids(s) for s in lines], self.recipe.data.eval_batch_size,
                                     self.device)
        return mu.to(self.device), None if logvar is None else logvar.to(self.device)

    def prior(self, n: int, seed: int, stretch: float = 0.0) -> torch.Tensor | None:
        """n codes z ~ N(0, I) on the run's device (see :func:`prior_codes`); None for an RNNLM, whose
        decoders then take ``n`` rows without z."""
        if not self.model.has_latent:
            return None
        return prior_codes(n, self.model.z_dim, torch.Generator().manual_seed(seed), stretch).to(self.device)

    def decode(self, z: torch.Tensor | None, opts: DecodeOptions, n: int = 1) -> list[str]:
        return [self.text(s) for s in decode(self.model, z, opts, n)]


def open_run(run: str | Path, device: str | None = None) -> Session:
    """Reopen a trained run (best weights) for analysis, on ``device`` (default: the recipe's)."""
    recipe, vocab, model = load_run(run, device)
    return Session(recipe, vocab, model, str(next(model.parameters()).device), Path(run))
