"""textvae: variational autoencoders of sentences."""

from textvae.config import Recipe, load_recipe
from textvae.data import Batch, Vocab
from textvae.errors import TextVAEError
from textvae.evaluation import evaluate
from textvae.models import TextVAE, build_model
from textvae.objectives import Objective
from textvae.training import Trainer

__all__ = ["Batch", "Objective", "Recipe", "TextVAE", "TextVAEError", "Trainer", "Vocab", "build_model",
           "evaluate", "load_recipe"]
__version__ = "0.1.0"
