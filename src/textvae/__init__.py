"""textvae: variational autoencoders of sentences.

The public names below are imported on first use, so ``import textvae`` is cheap (no torch, no trainer)::

    from textvae import load_recipe, build_model, open_run, sample
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "load_recipe": "textvae.config", "Recipe": "textvae.config",
    "TextVAEError": "textvae.errors",
    "Vocab": "textvae.data", "Batch": "textvae.data",
    "build_model": "textvae.models", "TextVAE": "textvae.models",
    "Objective": "textvae.objectives",
    "Trainer": "textvae.training",
    "evaluate": "textvae.evaluation",
    "DecodeOptions": "textvae.decoding", "decode": "textvae.decoding",
    "open_run": "textvae.session", "sample": "textvae.session", "reconstruct": "textvae.session",
    "interpolate": "textvae.session",
}
__all__ = ["Batch", "DecodeOptions", "Objective", "Recipe", "TextVAE", "TextVAEError", "Trainer", "Vocab",
           "build_model", "decode", "evaluate", "interpolate", "load_recipe", "open_run", "reconstruct", "sample"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'textvae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from textvae.config import Recipe, load_recipe
    from textvae.data import Batch, Vocab
    from textvae.decoding import DecodeOptions, decode
    from textvae.errors import TextVAEError
    from textvae.evaluation import evaluate
    from textvae.models import TextVAE, build_model
    from textvae.objectives import Objective
    from textvae.session import interpolate, open_run, reconstruct, sample
    from textvae.training import Trainer
