"""Training objectives as composable terms."""

from textvae.objectives.objective import AuxReconstruction, BagOfWords, KLTerm, MuForcing, Objective, Reconstruction
from textvae.objectives.schedules import kl_weight
from textvae.objectives.word_dropout import word_dropout

__all__ = ["AuxReconstruction", "BagOfWords", "KLTerm", "MuForcing", "Objective", "Reconstruction", "kl_weight",
           "word_dropout"]
