"""What `textvae train` and `textvae evaluate` report about a run: its metrics on a split, and a showcase of
prior samples and reconstructions. Data only; ``textvae.cli.format`` prints them."""

from __future__ import annotations

import dataclasses

import torch

from textvae.analysis.codes import prior_codes
from textvae.analysis.reconstruct import reconstruction_scores
from textvae.decoding import DecodeOptions
from textvae.evaluation.collapse import is_collapsed
from textvae.evaluation.evaluate import estimate_seconds, evaluate
from textvae.session.core import Session

SHOWCASE = DecodeOptions(method="greedy", ban_unk=True)
BLEU_BLOCK = 512
"""Sentences decoded at once by reconstruction_bleu."""


def evaluate_split(s: Session, split: str = "test", iw_samples: int | None = None,
                   bf16: bool | str | None = None, resumable: bool = False) -> dict:
    """The full metric set (``docs/metrics.md``) of the run's best weights on a split, with ``iw_samples`` = K
    for nll_iw and ``bf16`` for its precision (True, False or "auto"; default: the recipe's). Adds ``run`` (the run
    folder), ``vocab`` (its size), ``vocab_size_limit`` (the recipe's cut, 0: none), ``z_dim`` and, for a VAE,
    ``collapsed`` (:func:`textvae.evaluation.collapse.is_collapsed`). ``resumable``:
    finished batches are kept in RUN/eval_SPLIT.ledger, so that the same evaluation cut short and run again
    resumes there (``textvae evaluate`` and the final evaluation of ``textvae train`` do this)."""
    cfg = s.recipe.eval if bf16 is None else dataclasses.replace(s.recipe.eval, bf16=bf16)
    metrics = evaluate(s.model, s.split(split), cfg, s.recipe.data.eval_batch_size, s.device, iw_samples,
                       bpc=s.recipe.data.tokenizer == "char",
                       ledger=s.run_path / f"eval_{split}.ledger" if resumable else None)
    metrics.update(run=str(s.run_path), vocab=len(s.vocab), vocab_size_limit=s.recipe.data.vocab_size,
                   z_dim=s.model.z_dim)
    if s.model.is_stochastic:
        metrics["collapsed"] = is_collapsed(metrics)
    return metrics


def final_iw_samples(s: Session) -> int:
    """K for the test evaluation that ends ``textvae train``: ``eval.final_iw_samples``, at most ``eval.iw_samples``."""
    return min(s.recipe.eval.final_iw_samples, s.recipe.eval.iw_samples)


def evaluation_plan(s: Session, split: str = "test", iw_samples: int | None = None) -> dict:
    """What an evaluation of ``split`` will do and about how long it will take, before it starts: {split,
    sentences, tokens, iw_samples (K; 0 for models without nll_iw), seconds (an estimate:
    :func:`textvae.evaluation.evaluate.estimate_seconds`)}."""
    k = s.recipe.eval.iw_samples if iw_samples is None else iw_samples
    data = s.split(split)
    seconds = estimate_seconds(s.model, data, s.recipe.eval, s.recipe.data.eval_batch_size, s.device, k)
    return {"split": split, "sentences": len(data), "tokens": data.n_tokens,
            "iw_samples": k if s.model.is_stochastic else 0, "seconds": seconds}


def showcase(s: Session, split: str = "test", n: int = 5, seed: int = 0, bleu_sentences: int | None = None) -> dict:
    """``n`` greedy decodes of z ~ N(0, I) and ``n`` greedy reconstructions (posterior mean) of random sentences of
    ``split``, <unk> banned; for an RNNLM, its one greedy sentence. Keys: model (vae, ae or lm), samples, and for
    models with codes, reconstructions [{input, output}] and bleu {bleu, exact, sentences}: the reconstruction
    BLEU (:func:`reconstruction_bleu`) of the whole split (or its first ``bleu_sentences`` sentences)."""
    model = "lm" if not s.model.has_latent else "vae" if s.model.is_stochastic else "ae"
    if model == "lm":
        return {"model": model, "samples": s.decode(None, SHOWCASE, 1)}
    g = torch.Generator().manual_seed(seed)
    samples = s.decode(prior_codes(n, s.model.z_dim, g).to(s.device), SHOWCASE)
    data = s.split(split)
    idx = torch.randperm(len(data), generator=g)[:n].tolist()
    seqs = [data.ids[i] for i in idx]
    mu, _ = s.codes_of_ids(seqs)
    recs = [{"input": s.text(x), "output": y} for x, y in zip(seqs, s.decode(mu, SHOWCASE), strict=True)]
    return {"model": model, "split": split, "samples": samples, "reconstructions": recs,
            "bleu": reconstruction_bleu(s, split, bleu_sentences)}


def reconstruction_bleu(s: Session, split: str = "test", sentences: int | None = None) -> dict:
    """{bleu, exact, sentences}: the reconstruction BLEU, textvae's one definition of it (``docs/metrics.md``):
    corpus BLEU-4 (sacrebleu, 0..100) of the greedy decodes (<unk> banned) of the posterior means of the sentences
    of ``split`` (the first ``sentences`` of them; None: all) against those sentences as the model sees them
    (unknown words as <unk>), and the share decoded exactly. ``textvae reconstruct --split test`` prints the same
    figure. A model with codes only."""
    first = s.split(split).ids[:sentences]
    outputs = [y for i in range(0, len(first), BLEU_BLOCK)
               for y in s.decode(s.codes_of_ids(first[i:i + BLEU_BLOCK])[0], SHOWCASE)]
    return {**reconstruction_scores([s.text(x) for x in first], outputs), "sentences": len(first)}
