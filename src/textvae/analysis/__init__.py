"""Latent-space analyses that work on any model of the library: codes from the posterior and the prior,
homotopies, attribute arithmetic, best-matching sentences and reconstruction scores."""

from textvae.analysis.codes import (
    analogy,
    attribute_vector,
    homotopy,
    posterior_codes,
    prior_codes,
    stretch_matrix,
)
from textvae.analysis.nearest import best_matching
from textvae.analysis.reconstruct import reconstruction_scores

__all__ = ["analogy", "attribute_vector", "best_matching", "homotopy", "posterior_codes", "prior_codes",
           "reconstruction_scores", "stretch_matrix"]
