"""A trained run reopened for inference: its model, and the way between text and token ids."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from textvae.analysis.codes import posterior_codes, prior_codes
from textvae.config import Recipe, fixed_length
from textvae.data.corpus import Split, input_style
from textvae.data.normalize import Normalized, Normalizer
from textvae.data.source import corpus_lines
from textvae.data.tokenize import detokenize, tokenize
from textvae.data.vocab import Vocab
from textvae.decoding import DecodeOptions, decode
from textvae.errors import BadValue, TextVAEError
from textvae.models.vae import TextVAE
from textvae.pipeline import load_run, load_splits

SPLITS = ("train", "valid", "test")


@dataclass
class Session:
    """A reopened run. Text a user gives is read in the corpus's style (``read``: ``textvae.data.normalize``,
    unknown words reported); a line of the corpus itself is tokenized as the corpus was (``ids``). ``text(ids)``
    joins tokens back, ``codes(lines)`` gives the posterior means and log-variances (N, Z) of user text on the
    run's device, ``prior(n, seed)`` codes from N(0, I), ``decode(z, opts)`` the sentences of codes. The model is
    in eval mode with gradients off (``load_run``): one Session can serve several threads."""

    recipe: Recipe
    vocab: Vocab
    model: TextVAE
    device: str
    run_path: Path
    _splits: dict[str, Split] = field(default_factory=dict, repr=False)
    _normalizer: Normalizer | None = field(default=None, repr=False)

    @property
    def reverse(self) -> bool:
        """Whether the model reads and writes sentences right to left (``data.reverse``)."""
        return self.recipe.data.reverse

    def ids(self, line: str) -> list[int]:
        """A corpus line's token ids in the model's order, tokenized as the corpus was (unknown words -> <unk>)."""
        ids = self.vocab.encode(self.tokens(line))
        return ids[::-1] if self.reverse else ids

    def tokens(self, line: str) -> list[str]:
        """A corpus line's tokens in reading order, tokenized as the corpus was."""
        return tokenize(line, self.recipe.data.tokenizer, self.recipe.data.lower)

    def corpus_line(self, line: str) -> Normalized:
        """A corpus line, tokenized once as the corpus was: its tokens (reading order), ids (the model's order) and
        the tokens the vocabulary lacks."""
        tokens = self.tokens(line)
        ids = self.vocab.encode(tokens)
        return Normalized(tokens, ids[::-1] if self.reverse else ids, [w for w in tokens if w not in self.vocab.stoi])

    def words(self, tokens: list[str]) -> str:
        """Tokens in reading order -> text (characters joined for a character run, else words with spaces)."""
        return detokenize(tokens, self.recipe.data.tokenizer)

    def read(self, text: str) -> Normalized:
        """Text a user typed, in the corpus's style: its tokens (reading order), ids (the model's order) and the
        words not in the vocabulary."""
        if self._normalizer is None:
            self._normalizer = Normalizer(input_style(self.recipe.data), self.vocab)
        got = self._normalizer(text)
        return Normalized(got.tokens, got.ids[::-1], got.unknown) if self.reverse else got

    def text(self, ids: list[int]) -> str:
        """Token ids in the model's order -> text in reading order."""
        tokens = self.vocab.decode(ids)
        return detokenize(tokens[::-1] if self.reverse else tokens, self.recipe.data.tokenizer)

    def require_latent(self) -> None:
        """A TextVAEError for a run without codes (the RNNLM)."""
        if not self.model.has_latent:
            raise TextVAEError(f"{self.run_path}: this run is an RNNLM: it has no latent code")

    def codes(self, lines: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posterior means and log-variances (None for the autoencoder) of user text lines, (N, Z) each."""
        return self.codes_of_ids([self.read(s).ids for s in lines])

    def codes_of_ids(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posterior means and log-variances of token-id sentences (no specials), (N, Z) each, on the device."""
        self.require_latent()
        length = fixed_length(self.recipe.model)
        for i, s in enumerate(seqs):
            if length and len(s) >= length:
                raise TextVAEError(f"sentence {i + 1} of the input ({self.text(s)[:30]!r}...) has {len(s)} tokens: "
                                   f"this model's fixed length of {length} allows at most {length - 1} (and </s>)")
        mu, logvar = posterior_codes(self.model, seqs, self.recipe.data.eval_batch_size, self.device)
        return mu.to(self.device), None if logvar is None else logvar.to(self.device)

    def prior(self, n: int, seed: int, stretch: float = 0.0) -> torch.Tensor | None:
        """n codes z ~ N(0, I) on the run's device (see :func:`prior_codes`); None for an RNNLM, whose
        decoders then take ``n`` rows without z."""
        if not self.model.has_latent:
            return None
        return prior_codes(n, self.model.z_dim, torch.Generator().manual_seed(seed), stretch).to(self.device)

    def decode(self, z: torch.Tensor | None, opts: DecodeOptions, n: int = 1,
               forced: torch.Tensor | None = None) -> list[str]:
        """Sentences decoded from codes z (N, Z) (``n`` sentences without z), as text. ``opts.max_len`` 0: the
        decoder's fixed length, else 200 characters for a character run, 50 tokens otherwise."""
        if opts.max_len <= 0 and self.model.decoder.max_len is None:
            opts = replace(opts, max_len=200 if self.recipe.data.tokenizer == "char" else 50)
        return [self.text(s) for s in decode(self.model.decoder, z, opts, n, forced)]

    def split_lines(self, split: str) -> list[str]:
        """The raw lines of a split of the run's corpus."""
        if split not in SPLITS:
            raise BadValue("split", f"must be train, valid or test, got '{split}'")
        return corpus_lines(self.recipe.data, split)

    def split(self, name: str) -> Split:
        """A split of the run's corpus encoded with the run's vocabulary (read once, then cached)."""
        if name not in SPLITS:
            raise BadValue("split", f"must be train, valid or test, got '{name}'")
        if name not in self._splits:
            self._splits.update(load_splits(self.recipe.data, self.vocab, splits=(name,),
                                            length=fixed_length(self.recipe.model))[1])
        return self._splits[name]


def open_run(run: str | Path, device: str | None = None) -> Session:
    """Reopen a trained run (best weights) for inference, on ``device`` (default: the recipe's)."""
    recipe, vocab, model = load_run(run, device)
    return Session(recipe, vocab, model, str(next(model.parameters()).device), Path(run))
