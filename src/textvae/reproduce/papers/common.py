"""What the papers' reproductions share: the reduced sizes of the small scale and the measurements that need a
trained model (the NLL an independent language model gives sentences, samples' BLEU and Self-BLEU)."""

from __future__ import annotations

import math
from pathlib import Path

WORD_TRAIN = ("data.batch_size=64", "train.epochs=100", "train.early_stop=0", "train.log_every=50",
              "train.checkpoint_every=200", "eval.final_iw_samples=0")
"""Word level, small scale: batches of 64, no early stopping, no nll_iw at the end (the claims read the ELBO's
terms, KL and the analyses; ``textvae evaluate RUN --iw-samples 500`` adds it)."""
DECODER_128 = ("model.decoder.embed_dim=128", "model.decoder.hidden_dim=128")
WORD_SMALL = ("model.encoder.embed_dim=128", "model.encoder.hidden_dim=128", *DECODER_128, *WORD_TRAIN)
"""Word level, small scale, for an encoder-decoder: embeddings and LSTMs of 128 units."""

STEPS = 1500
"""Word level, small scale: 1,500 optimiser steps of 64 sentences (2.3 epochs of PTB's 42,068 sentences)."""


def steps(n: int = STEPS) -> tuple[str, ...]:
    return (f"train.max_steps={n}",)


def sigmoid_annealing(over: int) -> tuple[str, ...]:
    """Bowman's sigmoid KL weight, centred at ``over`` / 2 steps and close to 1 by ``over``."""
    return ("objective.kl_weight.schedule=sigmoid", f"objective.kl_weight.steps={over}",
            f"objective.kl_weight.rate={10.0 / over:.6g}")


def linear_annealing(over: int) -> tuple[str, ...]:
    return ("objective.kl_weight.schedule=linear", "objective.kl_weight.start=0.0", "objective.kl_weight.value=1.0",
            f"objective.kl_weight.steps={over}")


NO_ANNEALING = ("objective.kl_weight.schedule=constant", "objective.kl_weight.value=1.0")


def open_session(run: Path, device: str):
    """The session of a trained run on ``device`` (auto: the machine's best)."""
    from textvae.session import open_run

    return open_run(run, None if device == "auto" else device)


def nll_per_token(lm, texts: list[str]) -> float:
    """Nats per token (</s> counted) that the language model session ``lm`` gives ``texts``."""
    from textvae.session.impute import sentence_nll

    if not texts:
        return math.nan
    tokens = sum(len(lm.ids(t)) + 1 for t in texts)
    return sentence_nll(lm, texts) * len(texts) / tokens


def generation(run: Path, device: str, n: int = 1000, refs: int = 1000) -> dict:
    """BLEU-4/5 and Self-BLEU-4/5 of ``n`` greedy decodes of prior samples against ``refs`` test sentences,
    distinct-1/2 and mean length (mu-Forcing 5.4; the paper uses 3,000 and 3,000)."""
    from textvae.session.latent import generate_eval

    g = generate_eval(open_session(run, device), n=n, refs=refs)
    return {k: g[k] for k in ("bleu4", "bleu5", "self_bleu4", "self_bleu5", "distinct1", "distinct2",
                              "mean_length", "examples")}


def monotone(values: list[float], rising: bool, tol: float = 0.0) -> bool:
    """Whether ``values`` rise (or fall) from each to the next, allowing a step back of at most ``tol``."""
    pairs = list(zip(values, values[1:], strict=False))
    return all((b >= a - tol) if rising else (b <= a + tol) for a, b in pairs)
