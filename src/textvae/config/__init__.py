"""Recipes: YAML files loaded strictly into the dataclasses of ``sections`` (data, objective, training,
evaluation) and ``model`` (model type, latent, encoder and decoder chosen by kind). Imports no torch."""

from textvae.config.loader import check_ranges, from_dict, load_recipe, recipe_to_yaml
from textvae.config.model import (
    DECODER_KINDS,
    ENCODER_KINDS,
    FlatModelConfig,
    LSTMDecoderConfig,
    LSTMEncoderConfig,
    ModelConfig,
    fixed_length,
    kind_options,
    upgrade_flat_model,
)
from textvae.config.sections import (
    AutoGenConfig,
    AuxConfig,
    BowConfig,
    DataConfig,
    EvalConfig,
    FreeBitsConfig,
    InputConfig,
    KLWeightConfig,
    MuForcingConfig,
    ObjectiveConfig,
    Recipe,
    TrainConfig,
    WordDropoutConfig,
)

__all__ = ["DECODER_KINDS", "ENCODER_KINDS", "AutoGenConfig", "AuxConfig", "BowConfig", "DataConfig", "EvalConfig",
           "FlatModelConfig", "FreeBitsConfig", "InputConfig", "KLWeightConfig", "LSTMDecoderConfig",
           "LSTMEncoderConfig", "ModelConfig", "MuForcingConfig", "ObjectiveConfig", "Recipe", "TrainConfig",
           "WordDropoutConfig", "check_ranges", "fixed_length", "from_dict", "kind_options", "load_recipe",
           "recipe_to_yaml", "upgrade_flat_model"]
