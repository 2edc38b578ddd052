"""The training objective as a sum of composable terms (logged values stay tensors: no sync per step).

A term maps (model output, batch, step) to a scalar added to the loss, and reports what it logs. An input
corruption (word dropout) changes the decoder input before the forward pass. Later objectives (AutoGen,
mu-Forcing, free bits, BOW) are more terms of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textvae.config import ObjectiveConfig
from textvae.data.batching import Batch
from textvae.models.vae import Output, TextVAE
from textvae.objectives.schedules import kl_weight
from textvae.objectives.word_dropout import word_dropout


class Reconstruction:
    """rec: mean over sentences of -log p(x|z), nats per sentence."""

    name = "rec"

    def __call__(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        rec = out.rec.mean()
        return rec, {"rec": rec.detach()}


@dataclass
class KLTerm:
    """w(step) * KL(q(z|x) || p(z)), mean over sentences, summed over dimensions."""

    cfg: object
    name = "kl"

    def __call__(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        kl = out.kl.sum(-1).mean()
        w = kl_weight(self.cfg, step)
        return w * kl, {"kl": kl.detach(), "kl_weight": w}


class Objective:
    """loss = sum of terms; also logs neg_elbo = rec + kl (unweighted)."""

    def __init__(self, terms: list, keep: float = 1.0):
        self.terms, self.keep = terms, keep

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig, model: TextVAE) -> Objective:
        terms = [Reconstruction()]
        if model.is_stochastic:
            terms.append(KLTerm(cfg.kl_weight))
        return cls(terms, keep=cfg.word_dropout.keep)

    def __call__(self, model: TextVAE, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        inp = word_dropout(batch.inp, self.keep) if model.training else batch.inp
        out = model(batch, inp=inp)
        loss, logs = 0.0, {}
        for term in self.terms:
            value, items = term(out, batch, step)
            loss = loss + value
            logs.update(items)
        logs["neg_elbo"] = logs["rec"] + logs.get("kl", 0.0)
        logs["loss"] = loss.detach()
        return loss, logs
