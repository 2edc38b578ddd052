"""Runs and recipes written before the kind-tagged model configs keep working, with the same results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config import from_dict, load_recipe
from textvae.config.model import FlatModelConfig, is_flat, upgrade_flat_model
from textvae.config.sections import Recipe
from textvae.errors import TextVAEError

FIXTURE = Path(__file__).parent / "fixtures" / "run_v0_1"
RECIPES = sorted(p for p in Path(__file__).resolve().parents[1].glob("recipes/**/*.yaml") if not p.name.startswith("_"))
runner = CliRunner()


@pytest.fixture
def old_run(tmp_path) -> Path:
    """A copy of the textvae 0.1 run folder, its config.yaml pointed at a copy of its corpus."""
    shutil.copytree(FIXTURE / "run", tmp_path / "run")
    shutil.copytree(FIXTURE / "corpus", tmp_path / "corpus")
    config = tmp_path / "run" / "config.yaml"
    config.write_text(config.read_text().replace("corpus: CORPUS", f"corpus: {tmp_path / 'corpus'}"))
    return tmp_path / "run"


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_old_run_config_is_flat_and_loads_nested(old_run):
    text = (old_run / "config.yaml").read_text()
    assert "encoder_hidden_dim: 12" in text and "decoder:" not in text
    m = load_recipe(old_run / "config.yaml").model
    assert (m.encoder.hidden_dim, m.encoder.embed_dim, m.encoder.bidirectional, m.encoder.layer_norm) == (12, 8, True,
                                                                                                         True)
    assert (m.decoder.hidden_dim, m.decoder.z_concat, m.decoder.dropout, m.decoder.layer_norm) == (16, True, 0.1, True)


def test_old_run_evaluates_as_before(old_run):
    got = _json(["evaluate", str(old_run), "--iw-samples", "5"])
    want = json.loads((FIXTURE / "expected_eval.json").read_text())
    for key in ("rec", "kl", "neg_elbo", "nll_iw", "ppl_iw", "mi", "au", "sentences", "tokens"):
        assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-6), key
    assert got["mu_hist"] == want["mu_hist"]  # counts: exact (approx() refuses nested mappings in newer pytest)


def test_old_run_samples_and_reconstructs_as_before(old_run):
    got = _json(["sample", str(old_run), "--n", "4", "--method", "beam", "--width", "3", "--max-len", "8"])
    assert got["sentences"] == json.loads((FIXTURE / "expected_sample.json").read_text())["sentences"]
    got = _json(["reconstruct", str(old_run), "--limit", "4", "--max-len", "8"])
    want = json.loads((FIXTURE / "expected_reconstruct.json").read_text())
    # the fields of then (examples have gained read_as since: the input in words, as other commands show it)
    assert [{k: e[k] for k in ("input", "mean", "samples")} for e in got["examples"]] == want["examples"]
    assert got["mean"] == pytest.approx(want["mean"]) and got["samples"] == pytest.approx(want["samples"])


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_bundled_recipes_use_the_nested_shape(path):
    from textvae.config.loader import read_recipe

    assert not is_flat(read_recipe(path)["model"]), f"{path}: flat model section"


@pytest.mark.parametrize("flat", [
    {"type": "vae", "embed_dim": 353, "hidden_dim": 191, "latent_dim": 13},
    {"type": "ae", "embed_dim": 10, "hidden_dim": 20, "encoder_embed_dim": 5, "encoder_hidden_dim": 7, "z_concat": True,
     "z_to_init": False, "inputless": True, "dropout": 0.5, "bidirectional": True, "layer_norm": True},
    {"type": "lm", "embed_dim": 10, "hidden_dim": 20, "dropout": 0.2},
], ids=["defaults", "every-option", "lm"])
def test_flat_section_means_the_same_model_as_its_nested_form(flat):
    old = from_dict(FlatModelConfig, flat)
    new = from_dict(Recipe, {"model": flat}).model
    assert new == from_dict(Recipe, {"model": upgrade_flat_model(old)}).model
    assert (new.type, new.latent_dim) == (old.type, old.latent_dim)
    d = new.decoder
    assert (d.embed_dim, d.hidden_dim, d.z_to_init, d.z_concat, d.inputless, d.dropout, d.layer_norm) == (
        old.embed_dim, old.hidden_dim, old.z_to_init, old.z_concat, old.inputless, old.dropout, old.layer_norm)
    if old.type != "lm":
        e = new.encoder
        assert (e.embed_dim, e.hidden_dim, e.bidirectional, e.layer_norm) == (
            old.encoder_embed_dim or old.embed_dim, old.encoder_hidden_dim or old.hidden_dim, old.bidirectional,
            old.layer_norm)


@pytest.mark.parametrize("section,message", [
    ({"embed_dim": "big"}, "'model.embed_dim' must be int"),  # the flat shape, checked as strictly as before
    ({"hidden_dim": 8, "decoder": {"hidden_dim": 8}}, "'model.hidden_dim' belongs to the flat model section"),
    ({"decoder": {"kind": "gru"}},
     "'model.decoder.kind' must be one of 'lstm', 'deconv', 'hybrid', 'bytenet', 'autr', 'transformer', got 'gru'"),
    ({"decoder": {"bidirectional": True}}, "unknown key 'model.decoder.bidirectional'"),
    ({"encoder": {"z_concat": True}}, "unknown key 'model.encoder.z_concat'"),
    ({"encoder": 3}, "'model.encoder' must be a mapping"),
    ({"decoder": {"hidden_dim": "x"}}, "'model.decoder.hidden_dim' must be int"),
])
def test_bad_model_sections(tmp_path, section, message):
    import yaml

    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"model": section}))
    with pytest.raises(TextVAEError, match=message):
        load_recipe(tmp_path / "r.yaml")


def test_overrides_reach_nested_sections(tmp_path):
    (tmp_path / "r.yaml").write_text("model: {decoder: {kind: lstm, hidden_dim: 8}}\n")
    r = load_recipe(tmp_path / "r.yaml", ["model.decoder.dropout=0.25", "model.encoder.hidden_dim=4"])
    assert (r.model.decoder.hidden_dim, r.model.decoder.dropout, r.model.encoder.hidden_dim) == (8, 0.25, 4)
