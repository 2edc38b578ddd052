"""The training objective as a sum of composable terms (logged values stay tensors: no sync per step).

A term is a module mapping (model output, batch, step) to a scalar added to the loss, and reports what it
logs; a term may own parameters (the bag-of-words head), trained and checkpointed with the model. An input
corruption (word dropout) changes the decoder input before the forward pass. Which terms a recipe gets:

- ``Reconstruction``: rec, times (1 + m) for AutoGen (``autogen.m``);
- ``KLTerm``: w(step) x KL, w from ``kl_weight`` (constant lambda, linear, sigmoid, cyclical), with free bits
  per dimension or FB-all (``free_bits``);
- ``MuForcing``: max(0, beta - 1/(2N) sum_n ||mu_n - mean(mu)||^2) (``mu_forcing.beta``);
- ``BagOfWords``: an MLP from z predicts the sentence's words (``bow.weight``);
- ``AuxReconstruction``: alpha x the decoder's auxiliary reconstruction term (``aux.weight``, Semeniuta et al.).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textvae.config import BowConfig, FreeBitsConfig, KLWeightConfig, ObjectiveConfig
from textvae.data.batching import Batch
from textvae.errors import TextVAEError
from textvae.models.vae import Output, TextVAE
from textvae.objectives.schedules import kl_weight
from textvae.objectives.word_dropout import word_dropout


class Reconstruction(nn.Module):
    """scale x rec, rec = mean over sentences of -log p(x|z) in nats per sentence. scale = 1 + m is AutoGen's
    objective; dividing the loss by 1 + m shows it is the ELBO with the KL weighted by beta = 1/(1+m)."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def forward(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        rec = out.rec.mean()
        return self.scale * rec, {"rec": rec.detach()}


class KLTerm(nn.Module):
    """w(step) x KL(q(z|x) || p(z)), KL in nats summed over dimensions and averaged over the batch.

    Free bits (``per_dim`` > 0) take the batch mean of each dimension's KL, then max(per_dim, KL_d), summed
    (``per_sentence``: max(per_dim, KL_nd) for each sentence n, summed over d, then averaged over n);
    FB-all (``total`` > 0) takes max(total, batch-mean KL). Below its target a dimension (or the total) gets
    no gradient, so the optimised term never drops below the target. Logged: ``kl`` (the true KL) and
    ``kl_term`` (what enters the loss, before the weight)."""

    def __init__(self, weight: KLWeightConfig, free_bits: FreeBitsConfig | None = None):
        super().__init__()
        self.weight, self.free_bits = weight, free_bits or FreeBitsConfig()

    def forward(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        per_dim = out.kl.mean(0)  # (Z,)
        kl = per_dim.sum()
        if self.free_bits.per_dim > 0 and self.free_bits.per_sentence:
            term = out.kl.clamp(min=self.free_bits.per_dim).sum(1).mean(0)
        elif self.free_bits.per_dim > 0:
            term = per_dim.clamp(min=self.free_bits.per_dim).sum()
        elif self.free_bits.total > 0:
            term = kl.clamp(min=self.free_bits.total)
        else:
            term = kl
        w = kl_weight(self.weight, step)
        return w * term, {"kl": kl.detach(), "kl_term": term.detach(), "kl_weight": w}


def mu_spread(mu: torch.Tensor) -> torch.Tensor:
    """1/(2N) sum_n ||mu_n - mean(mu)||^2 for posterior means mu (N, Z): half the batch's total variance."""
    mu = mu.float()
    return 0.5 * (mu - mu.mean(0)).pow(2).sum(-1).mean()


class MuForcing(nn.Module):
    """mu-Forcing (Liu et al. 2019, eq. 9): max(0, beta - 1/(2N) sum_n ||mu_n - mean(mu)||^2) over the batch
    of posterior means (N, Z). Zero once the spread of the means reaches beta."""

    def __init__(self, beta: float):
        super().__init__()
        self.beta = beta

    def forward(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        term = (self.beta - mu_spread(out.mu)).clamp(min=0.0)
        return term, {"mu_forcing": term.detach()}


class BagOfWords(nn.Module):
    """Bag-of-words loss (Zhao et al. 2017): an MLP f(z) gives one distribution over the vocabulary, and every
    target token of the sentence (words and </s>) is scored under it: weight x mean_n sum_t -log softmax(f(z_n))
    [x_nt], nats per sentence. The MLP is z -> hidden (tanh) -> V, or z -> V with ``hidden`` = 0."""

    def __init__(self, cfg: BowConfig, z_dim: int, vocab_size: int):
        super().__init__()
        self.weight = cfg.weight
        self.head = (nn.Linear(z_dim, vocab_size) if cfg.hidden <= 0 else
                     nn.Sequential(nn.Linear(z_dim, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, vocab_size)))

    def forward(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        logp = F.log_softmax(self.head(out.z).float(), dim=-1)  # (B, V)
        tok = logp.gather(1, batch.tgt) * batch.mask  # (B, L)
        bow = -tok.sum(1).mean()
        return self.weight * bow, {"bow": bow.detach()}


class AuxReconstruction(nn.Module):
    """Semeniuta et al. 2017, eq. 3-4: weight x J_aux, J_aux = mean over sentences of -sum_t log p(x_t | z) under
    the decoder's auxiliary head (``head``, e.g. the deconvolution features, which never see the previous words),
    nats per sentence. Asks the model for its auxiliary heads (``uses_aux``)."""

    uses_aux = True

    def __init__(self, weight: float, head: str = "deconv"):
        super().__init__()
        self.weight, self.head = weight, head

    def forward(self, out: Output, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        aux = out.aux[self.head].mean()
        return self.weight * aux, {"aux": aux.detach()}


class Objective(nn.Module):
    """loss = sum of terms; also logs neg_elbo = rec + kl (unweighted) and kl_share, the percentage of the loss
    that the KL term (as weighted and clamped in the loss) makes up (AutoGen Fig. 2)."""

    def __init__(self, terms: list[nn.Module], keep: float = 1.0):
        super().__init__()
        self.terms, self.keep = nn.ModuleList(terms), keep

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig, model: TextVAE) -> Objective:
        terms: list[nn.Module] = [Reconstruction(1.0 + cfg.autogen.m)]
        if model.is_stochastic:
            terms.append(KLTerm(cfg.kl_weight, cfg.free_bits))
            if cfg.mu_forcing.beta > 0:
                terms.append(MuForcing(cfg.mu_forcing.beta))
        if model.has_latent and cfg.bow.weight > 0:
            terms.append(BagOfWords(cfg.bow, model.z_dim, model.decoder.vocab_size))
        if cfg.aux.weight > 0:
            heads = model.decoder.aux_heads
            if cfg.aux.head not in heads:
                raise TextVAEError(f"objective.aux: the {type(model.decoder).__name__} has no auxiliary head "
                                   f"'{cfg.aux.head}' (heads: {', '.join(heads) or 'none'}; the hybrid and bytenet "
                                   f"decoders have 'deconv')")
            terms.append(AuxReconstruction(cfg.aux.weight, cfg.aux.head))
        return cls(terms, keep=cfg.word_dropout.keep)

    def forward(self, model: TextVAE, batch: Batch, step: int) -> tuple[torch.Tensor, dict]:
        inp = word_dropout(batch.inp, self.keep) if model.training else batch.inp
        out = model(batch, inp=inp, aux=any(getattr(t, "uses_aux", False) for t in self.terms))
        loss, logs = 0.0, {}
        for term in self.terms:
            value, items = term(out, batch, step)
            loss = loss + value
            logs.update(items)
        logs["neg_elbo"] = logs["rec"] + logs.get("kl", 0.0)
        if out.mu is not None:
            logs["mu_spread"] = mu_spread(out.mu.detach())
        logs["loss"] = loss.detach()
        if "kl_term" in logs:  # the KL term's value in the loss is kl_weight x kl_term
            logs["kl_share"] = 100.0 * logs["kl_weight"] * logs["kl_term"] / logs["loss"]
        return loss, logs
