"""How well decodes reproduce their inputs: corpus BLEU (sacrebleu) and the exact-match rate."""

from __future__ import annotations


def reconstruction_scores(references: list[str], hypotheses: list[str]) -> dict:
    """{"bleu": corpus BLEU-4 in 0..100 (sacrebleu, tokenize="none": the inputs are already tokenized),
    "exact": fraction of hypotheses equal to their reference}."""
    import sacrebleu

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none", force=True)  # tokenized on purpose
    exact = sum(r == h for r, h in zip(references, hypotheses, strict=True)) / max(len(references), 1)
    return {"bleu": bleu.score, "exact": exact}
