"""Evaluation protocol: rec, kl, neg_elbo, nll_iw, ppl_*, mi, au."""

from textvae.evaluation.estimators import active_units, mutual_info, mutual_info_minibatch, nll_iw
from textvae.evaluation.evaluate import evaluate

__all__ = ["active_units", "evaluate", "mutual_info", "mutual_info_minibatch", "nll_iw"]
