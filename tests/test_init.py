"""model.init_range: the protocol papers' uniform initialisation, structural zeros kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_recipe
from torch import nn

from textvae.config import Recipe, from_dict
from textvae.config.loader import check_ranges
from textvae.data.vocab import PAD
from textvae.errors import TextVAEError
from textvae.models.build import build_model


def _model(**model):
    recipe = from_dict(Recipe, tiny_recipe(Path("unused"), model=model))
    torch.manual_seed(0)
    return build_model(recipe.model, 40)


def test_every_parameter_in_its_range_and_structural_zeros_kept():
    m = _model(init_range=0.01, embed_init_range=0.1, decoder={"hidden_dim": 20})
    embeds = {id(x.weight) for x in m.modules() if isinstance(x, nn.Embedding)}
    assert len(embeds) == 2  # the encoder's and the decoder's
    for name, p in m.named_parameters():
        bound = 0.1 if id(p) in embeds else 0.01
        assert p.abs().max() <= bound and p.abs().max() > 0.8 * bound, name  # drawn over the whole range
    assert m.decoder.out.weight.shape[1] == 20  # the output layer's padding is in its product, not its weight
    assert not m.decoder.embed.weight[PAD].any() and not m.encoder.embed.weight[PAD].any()


def test_a_tied_output_layer_is_the_embedding_and_gets_its_range():
    m = _model(type="lm", init_range=0.01, embed_init_range=0.05,
               decoder={"embed_dim": 16, "hidden_dim": 16, "tie_embeddings": True})
    assert m.decoder.out.weight is m.decoder.embed.weight
    w = m.decoder.out.weight
    assert 0.04 < w.abs().max() <= 0.05 and m.decoder.out.bias.abs().max() <= 0.01


def test_the_default_keeps_pytorch_s_own_initialisation():
    m = _model()
    assert m.decoder.embed.weight.abs().max() > 1.0  # N(0, 1) embeddings, not U(-0.1, 0.1)


@pytest.mark.parametrize("key,value", [("init_range", -0.01), ("embed_init_range", 0.0)])
def test_bad_ranges_are_errors_naming_the_key(key, value):
    recipe = from_dict(Recipe, tiny_recipe(Path("unused"), model={key: value}))
    with pytest.raises(TextVAEError, match=f"model.{key}"):
        check_ranges(recipe, "recipe")
