"""Recipes load strictly into dataclasses; KL weight schedules hit their documented values."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from textvae.config import KLWeightConfig, Recipe, load_recipe, recipe_to_yaml
from textvae.errors import TextVAEError
from textvae.objectives import kl_weight

RECIPES = sorted(p for p in Path(__file__).resolve().parents[1].glob("recipes/**/*.yaml") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_bundled_recipes_load_and_roundtrip(path, tmp_path):
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe)
    (tmp_path / "saved.yaml").write_text(recipe_to_yaml(recipe))
    assert load_recipe(tmp_path / "saved.yaml") == recipe


def test_overrides_and_int_to_float(tmp_path):
    (tmp_path / "r.yaml").write_text("train: {lr: 1}\n")
    r = load_recipe(tmp_path / "r.yaml", ["train.epochs=3", "model.type=lm"])
    assert r.train.lr == 1.0 and isinstance(r.train.lr, float)
    assert r.train.epochs == 3 and r.model.type == "lm"
    with pytest.raises(TextVAEError, match="KEY=VALUE"):
        load_recipe(tmp_path / "r.yaml", ["train.epochs"])


@pytest.mark.parametrize("text,message", [
    ("model: {size: 3}\n", "unknown key 'model.size'"),
    ("train: {bf16: 1}\n", "'train.bf16' must be bool"),
    ("data: 3\n", "'data' must be a mapping"),
    ("model: {type: gan}\n", "'model.type' must be one of"),
    ("a: [\n", "not a valid YAML"),
])
def test_bad_recipes(tmp_path, text, message):
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(TextVAEError, match=message):
        load_recipe(tmp_path / "r.yaml")


def test_schedules():
    const = KLWeightConfig(schedule="constant", value=0.3)
    assert kl_weight(const, 0) == kl_weight(const, 10**6) == 0.3
    lin = KLWeightConfig(schedule="linear", start=0.0, value=1.0, steps=100)
    assert [kl_weight(lin, s) for s in (0, 25, 100, 1000)] == [0.0, 0.25, 1.0, 1.0]
    sig = KLWeightConfig(schedule="sigmoid", value=1.0, steps=1000, rate=0.01)
    assert kl_weight(sig, 500) == pytest.approx(0.5)
    assert kl_weight(sig, 0) == pytest.approx(1 / (1 + math.exp(5)))
    assert kl_weight(sig, 10**7) == pytest.approx(1.0)
    assert kl_weight(sig, -(10**7)) == 0.0
    values = [kl_weight(sig, s) for s in range(0, 2000, 50)]
    assert values == sorted(values)


def test_the_demo_recipe_is_the_measured_candidate():
    """recipes/quick.yaml is the candidate of benchmarks/demo.py that the benchmark reports as the demo."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import demo

    measured = load_recipe(Path(demo.ROOT) / "recipes" / "quick_ptb.yaml", demo.CANDIDATES[demo.DEMO])
    shipped = load_recipe(Path(demo.ROOT) / "recipes" / "quick.yaml")
    measured.name = shipped.name
    assert measured == shipped


def test_one_list_of_tokenizers_and_of_decode_methods():
    """Each option, message and recipe check reads the one list (config.sections.TOKENIZERS, decoding METHODS)."""
    import typing

    from textvae.config.sections import TOKENIZERS, DataConfig, InputConfig
    from textvae.data.tokenize import check_tokenizer
    from textvae.decoding.decode import METHODS, DecodeOptions
    from textvae.errors import TextVAEError
    from textvae.web.limits import Decoding

    assert typing.get_args(typing.get_type_hints(DataConfig)["tokenizer"]) == TOKENIZERS
    assert typing.get_args(typing.get_type_hints(InputConfig)["tokenizer"]) == ("auto", *TOKENIZERS)
    assert typing.get_args(typing.get_type_hints(DecodeOptions)["method"]) == METHODS
    assert Decoding.model_fields["method"].annotation.__args__ == METHODS
    with pytest.raises(TextVAEError, match=r"^tokenizer: must be word, char, moses, penn or jieba, got 'x'") as info:
        check_tokenizer("x")
    assert info.value.for_option().startswith("--tokenizer: must be")  # the CLI writes the option


def test_every_recipe_loads_to_the_config_it_loaded_to():
    """Recipes that extend a base state only what differs, and still load to what they loaded to before (the
    digests in tests/fixtures/recipe_digests.json; a deliberate change rewrites them: tests/recipe_digests.py)."""
    import json

    from recipe_digests import FILE, digests

    assert digests() == json.loads(FILE.read_text())


def test_families_extend_a_base():
    from textvae.config.loader import read_recipe  # noqa: F401  (the loader that merges them)

    root = Path(__file__).resolve().parents[1] / "recipes"
    for family in ("liu2019", "autogen"):
        recipes = [p for p in (root / family).glob("*.yaml") if not p.name.startswith("_")]
        assert recipes and all("extends:" in p.read_text() for p in recipes), family


def test_extends_merges_sections_and_refuses_cycles(tmp_path):
    (tmp_path / "_base.yaml").write_text("data: {corpus: ptb, batch_size: 8}\nmodel: {decoder: {kind: lstm, "
                                         "hidden_dim: 16, z_concat: true}}\ntrain: {lr: 0.5}\n")
    (tmp_path / "a.yaml").write_text("extends: _base.yaml\ntrain: {epochs: 3}\nmodel: {decoder: {hidden_dim: 8}}\n")
    r = load_recipe(tmp_path / "a.yaml")
    assert (r.data.batch_size, r.train.lr, r.train.epochs) == (8, 0.5, 3)
    assert (r.model.decoder.hidden_dim, r.model.decoder.z_concat) == (8, True)
    # another kind replaces the base's decoder whole (z_concat is not a deconv option)
    (tmp_path / "b.yaml").write_text("extends: _base.yaml\nmodel: {decoder: {kind: deconv, length: 8, channels: [4, "
                                     "4]}}\n")
    assert load_recipe(tmp_path / "b.yaml").model.decoder.kind == "deconv"
    (tmp_path / "c.yaml").write_text("extends: d.yaml\n")
    (tmp_path / "d.yaml").write_text("extends: c.yaml\n")
    with pytest.raises(TextVAEError, match="leads back to itself"):
        load_recipe(tmp_path / "c.yaml")
    (tmp_path / "e.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(TextVAEError, match="no such file"):
        load_recipe(tmp_path / "e.yaml")


def test_a_bad_value_names_its_parameter_and_the_cli_its_option():
    import pickle

    from textvae.errors import BadValue

    exc = BadValue("from_label/to_label", "give both", "x")
    assert str(exc) == "from_label/to_label x: give both" and isinstance(exc, ValueError)
    assert exc.for_option() == "--from-label/--to-label x: give both"
    assert exc.for_option({"from_label/to_label": "--labels"}) == "--labels x: give both"
    again = pickle.loads(pickle.dumps(exc))  # sent between ranks whole
    assert (type(again), again.param, str(again)) == (BadValue, exc.param, str(exc))
