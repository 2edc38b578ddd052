"""Quality and diversity of generated sentences (mu-Forcing 5.4, the Texygen protocol): BLEU of each sample
against a reference set, Self-BLEU of each sample against the other samples, distinct-n and mean length."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter

from textvae.errors import TextVAEError


def _fast_bleu():
    try:
        import fast_bleu
    except ImportError:
        from textvae.errors import TextVAEError

        raise TextVAEError("generation scores need fast-bleu: pip install fast-bleu") from None
    return fast_bleu


def bleu_scores(samples: list[list[str]], references: list[list[str]], orders=(4, 5)) -> dict:
    """{"bleu4": ..., "self_bleu4": ..., ...} in 0..100. BLEU-n: nltk's sentence_bleu of each sample against
    *all* references (uniform weights up to n, smoothing method 1), averaged over the samples. Self-BLEU-n: the
    same for each sample against the other samples (higher = less diverse). Computed by fast-bleu, which
    gives nltk's values (tested) fast enough for 3000 x 3000 sentences."""
    fb = _fast_bleu()
    weights = {str(n): tuple([1.0 / n] * n) for n in orders}
    # fast-bleu calls faulthandler.enable(), which needs a real file behind sys.stderr (not so under test runners)
    with contextlib.redirect_stderr(sys.__stderr__ or sys.stderr):
        bleu = fb.BLEU(references, weights).get_score(samples)
        self_bleu = fb.SelfBLEU(samples, weights).get_score()
    out = {}
    for n in orders:
        out[f"bleu{n}"] = 100.0 * sum(bleu[str(n)]) / len(samples)
        out[f"self_bleu{n}"] = 100.0 * sum(self_bleu[str(n)]) / len(samples)
    return out


def distinct_n(samples: list[list[str]], n: int) -> float:
    """Distinct n-grams over all n-grams in the samples (Li et al. 2016), 0..1."""
    grams = Counter(tuple(s[i : i + n]) for s in samples for i in range(len(s) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def generation_scores(samples: list[list[str]], references: list[list[str]]) -> dict:
    """BLEU-4/5, Self-BLEU-4/5 (0..100), distinct-1/2 (0..1) and mean length (tokens) of tokenized samples."""
    if not samples or not references:
        raise TextVAEError("need at least one sample and one reference sentence")
    return {**bleu_scores(samples, references), "distinct1": distinct_n(samples, 1),
            "distinct2": distinct_n(samples, 2), "mean_length": sum(map(len, samples)) / len(samples),
            "samples": len(samples), "references": len(references)}
