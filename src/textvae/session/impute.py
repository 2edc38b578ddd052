"""Imputation as session functions: fill blanks in typed sentences, impute a masked split and count the words
recovered, and the adversarial evaluation (Bowman et al. 2016, section 5). Results are JSON-ready."""

from __future__ import annotations

import random
import time

import torch

from textvae.data.batching import bucket_order, iterate_batches
from textvae.errors import BadValue, TextVAEError
from textvae.imputation import Blanked, Imputer, blank_out, default_imputer
from textvae.imputation.adversarial import adversarial_errors
from textvae.models.vae import eval_mode
from textvae.session.core import Session
from textvae.session.latent import reading

BLANK = "___"


def parse_blanks(s: Session, text: str, marker: str = BLANK) -> tuple[list[str | None], list]:
    """A typed sentence with ``marker`` where words are missing -> its tokens in reading order (None at each
    blank; every marker is one word) and how its visible parts were read. Each part between markers is read in the
    corpus's style."""
    if not marker:
        raise BadValue("blank", "the blank marker must not be empty")
    parts = [s.read(p) for p in text.split(marker)]
    tokens: list[str | None] = []
    for i, part in enumerate(parts):
        if i:
            tokens.append(None)
        tokens += part.tokens
    return tokens, parts


def _model_order(s: Session, blanked: list) -> list:
    return blanked[::-1] if s.reverse else blanked


def _reading_order(s: Session, ids: list[int]) -> list[int]:
    return ids[::-1] if s.reverse else ids


def impute(s: Session, texts: list[str], imputer: Imputer | None = None, marker: str = BLANK) -> dict:
    """Fill the blanks (``marker``, one word each) of typed sentences. A sentence without a blank comes back as it
    was read. Keys: method, reading, sentences [{input, read_as (blanks as ___), output, filled (the words put in
    the blanks), score (log p(x|z) + log p(z), nats)}]."""
    imputer = imputer or default_imputer(s.model)
    parsed = [parse_blanks(s, t, marker) for t in texts]
    for line, (tokens, _) in enumerate(parsed, 1):
        if not tokens:
            raise TextVAEError(f"sentence {line}: empty (nothing to read and no blank)")
    blanked: list[Blanked] = [_model_order(s, [None if t is None else s.vocab.stoi.get(t, 1) for t in tokens])
                              for tokens, _ in parsed]
    done = imputer(s.model, blanked)
    rows = []
    for text, (tokens, _), result in zip(texts, parsed, done, strict=True):
        ids = _reading_order(s, result.ids)
        rows.append({"input": text, "read_as": " ".join(t if t is not None else BLANK for t in tokens),
                     "output": s.text(result.ids), "score": result.score,
                     "filled": [s.vocab.itos[ids[i]] for i, t in enumerate(tokens) if t is None]})
    return {"method": imputer.name, "reading": reading([r for _, parts in parsed for r in parts]), "sentences": rows}


def impute_split(s: Session, split: str = "test", mask: str = "final20", limit: int = 0, seed: int = 0,
                 imputer: Imputer | None = None) -> dict:
    """Hide words of the split's sentences (the first ``limit``, 0: all) by ``mask`` (final20: the last 20% of
    each, Bowman; random30: a random 30%, AUTR), impute them, and count the hidden words recovered exactly. Keys:
    method, mask, split, sentences, missing_words, recovered, accuracy (recovered / missing), rows [{true,
    blanked, output, hidden (positions)}]."""
    data = s.split(split).ids[:limit] if limit > 0 else s.split(split).ids
    return {**impute_sentences(s, data, mask, seed, imputer), "split": split}


def impute_sentences(s: Session, data: list[list[int]], mask: str, seed: int = 0,
                     imputer: Imputer | None = None) -> dict:
    """:func:`impute_split` for sentences given as token ids in the model's order. Rows also keep the true and
    imputed ids in reading order (``_true``, ``_output``) for the adversarial evaluation."""
    imputer = imputer or default_imputer(s.model)
    if not data:
        raise TextVAEError("no sentences to impute")
    rng = random.Random(seed)
    rows = []
    for ids in data:
        true = _reading_order(s, ids)
        blanked, hidden = blank_out(true, mask, rng)
        rows.append({"_true": true, "blanked": blanked, "hidden": hidden})
    done = imputer(s.model, [_model_order(s, r["blanked"]) for r in rows])
    recovered = missing = 0
    for r, result in zip(rows, done, strict=True):
        out = _reading_order(s, result.ids)
        r["_output"] = out
        missing += len(r["hidden"])
        recovered += sum(out[i] == r["_true"][i] for i in r["hidden"])
    shown = [{"true": _text(s, r["_true"]), "blanked": " ".join(BLANK if w is None else s.vocab.itos[w]
                                                                   for w in r["blanked"]),
              "output": _text(s, r["_output"]), "hidden": r["hidden"], "_true": r["_true"], "_output": r["_output"]}
             for r in rows]
    return {"method": imputer.name, "mask": mask, "sentences": len(rows), "missing_words": missing,
            "recovered": recovered, "accuracy": recovered / max(1, missing), "rows": shown}


def _text(s: Session, reading_ids: list[int]) -> str:
    return s.text(_model_order(s, reading_ids))


@torch.no_grad()
def sentence_nll(lm: Session, texts: list[str]) -> float:
    """Mean -log p(x) (nats per sentence, </s> counted) that a language model run gives sentences (text), read as
    that run's corpus was tokenized."""
    if lm.model.has_latent:
        raise BadValue("lm", "must be a language model run (model.type: lm)", lm.run_path)
    seqs = [lm.ids(t) for t in texts]
    total = 0.0
    with eval_mode(lm.model):
        for _, batch in iterate_batches(seqs, bucket_order([len(x) for x in seqs], 128, shuffle=False)):
            total += float(lm.model.rec(batch.to(lm.device), None).sum())
    return total / len(seqs)


def adversarial(s: Session, split: str = "test", mask: str = "final20", limit: int = 0, seed: int = 0,
                imputer: Imputer | None = None, lm: Session | None = None) -> dict:
    """Bowman et al.'s Table 4 for this run: the split's sentences (first ``limit``) shuffled by ``seed`` into two
    halves, the second imputed by ``mask``; discriminators tell the first half (true) from the imputed one (see
    ``textvae.imputation.adversarial``). With ``lm``, the mean NLL that independent language model gives the
    completed and the true sentences. ``split`` may join several with + (valid+test). Keys: method, mask,
    sentences, accuracy (words recovered), unigram, lstm ({dev_accuracy, test_accuracy, adversarial_error}), sizes,
    lm_nll {imputed, true}, examples (10), imputations (every completed sentence, in order), seconds_imputing and
    imputations_per_s."""
    data = [ids for name in split.split("+") for ids in s.split(name).ids]
    data = data[:limit] if limit > 0 else data
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    true = [_reading_order(s, data[i]) for i in order[:half]]
    tic = time.perf_counter()
    imputed = impute_sentences(s, [data[i] for i in order[half:]], mask, seed, imputer)
    seconds = time.perf_counter() - tic
    fake = [r["_output"] for r in imputed["rows"]]
    result = {"method": imputed["method"], "mask": mask, "split": split, "sentences": len(true) + len(fake),
              "accuracy": imputed["accuracy"], "seconds_imputing": seconds,
              "imputations_per_s": len(fake) / max(seconds, 1e-9),
              **adversarial_errors(true, fake, len(s.vocab), seed)}
    if lm is not None:
        result["lm_nll"] = {"imputed": sentence_nll(lm, [r["output"] for r in imputed["rows"]]),
                            "true": sentence_nll(lm, [r["true"] for r in imputed["rows"]]), "lm": str(lm.run_path)}
    result["examples"] = [{k: r[k] for k in ("blanked", "true", "output")} for r in imputed["rows"][:10]]
    result["imputations"] = [r["output"] for r in imputed["rows"]]
    return result
