"""Li et al. 2019's recipe pieces: a run started from another run's weights with parts reset (train.init_from,
train.reset), and free bits per sentence (objective.free_bits.per_sentence)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import yaml
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config.sections import FreeBitsConfig, KLWeightConfig
from textvae.errors import TextVAEError
from textvae.objectives.objective import KLTerm
from textvae.training.launch import start_run

runner = CliRunner()


def _recipe(tmp_path, name, corpus, **train):
    raw = tiny_recipe(corpus, train={"epochs": 1, **train}, eval={"iw_samples": 0},
                      objective={"kl_weight": {"schedule": "constant", "value": 0.0}})
    return write_recipe(tmp_path / f"{name}.yaml", raw)


@pytest.fixture
def pretrained(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=40)
    result = runner.invoke(app, ["train", str(_recipe(tmp_path, "ae", corpus)), "--out", str(tmp_path / "ae")])
    assert result.exit_code == 0, result.output
    return corpus, tmp_path / "ae"


def _parts(model, part):
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(part + ".")}


def test_init_from_loads_the_run_and_reset_keeps_the_fresh_decoder(tmp_path, pretrained):
    from textvae.models.weights import load_weights

    corpus, ae = pretrained
    warm = start_run(_recipe(tmp_path, "warm", corpus, init_from=str(ae), reset=["decoder"]), out=tmp_path / "warm",
                     log=lambda *a: None)
    cold = start_run(_recipe(tmp_path, "cold", corpus), out=tmp_path / "cold", log=lambda *a: None)
    loaded = start_run(_recipe(tmp_path, "cold2", corpus), out=tmp_path / "cold2", log=lambda *a: None).model
    load_weights(ae / "best.safetensors", loaded, warm.vocab.fingerprint)
    for part, want in (("encoder", loaded), ("latent", loaded), ("decoder", cold.model)):
        got, exp = _parts(warm.model, part), _parts(want, part)
        assert got.keys() == exp.keys() and got
        assert all(torch.equal(got[k], exp[k]) for k in got), part
    # the pretrained encoder is not the fresh one: loading did something
    assert not all(torch.equal(v, _parts(cold.model, "encoder")[k]) for k, v in _parts(warm.model, "encoder").items())


def test_init_from_trains_to_the_end(tmp_path, pretrained):
    corpus, ae = pretrained
    result = runner.invoke(app, ["train", str(_recipe(tmp_path, "fb", corpus, init_from=str(ae), reset=["decoder"])),
                                 "--out", str(tmp_path / "fb")])
    assert result.exit_code == 0, result.output
    assert "best.safetensors, decoder reset" in result.output and (tmp_path / "fb" / "report.json").is_file()


@pytest.mark.parametrize(("train", "message"), [
    ({"reset": ["decoder"]}, "'train.reset' re-initialises parts of weights loaded by train.init_from or"),
    ({"init_from": "no/such/run"}, "train.init_from: no/such/run is not a run folder with best weights"),
    ({"init_from": "RUN", "reset": ["head"]}, "'train.reset[0]' must be one of 'encoder', 'latent', 'decoder'"),
])
def test_bad_init_settings_are_one_line_errors(tmp_path, pretrained, train, message):
    corpus, ae = pretrained
    train = {k: (str(ae) if v == "RUN" else v) for k, v in train.items()}
    result = runner.invoke(app, ["train", str(_recipe(tmp_path, "bad", corpus, **train)), "--out", str(tmp_path / "b")])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def _pretrain_pair(tmp_path, corpus, **main):
    """An autoencoder recipe and a recipe that names it as train.pretrain (relative to its own folder)."""
    folder = tmp_path / "recipes"
    folder.mkdir(exist_ok=True)
    _recipe(folder, "ae", corpus)
    return _recipe(folder, "fb", corpus, pretrain="ae.yaml", reset=["decoder"], **main)


def test_pretrain_trains_the_autoencoder_first_and_starts_from_its_best_weights(tmp_path):
    from textvae.models.weights import load_weights

    corpus = write_corpus(tmp_path / "c", n_train=40)
    said = []
    warm = start_run(_pretrain_pair(tmp_path, corpus), out=tmp_path / "fb", log=said.append)
    pre = tmp_path / "fb-pretrain"
    assert any(f"pretraining: {tmp_path / 'recipes' / 'ae.yaml'} in {pre}" in line for line in said)
    assert any(f"initialised from {pre / 'best.safetensors'}, decoder reset" in line for line in said)
    assert torch.load(pre / "checkpoint.pt", weights_only=False)["finished"]
    loaded = start_run(_recipe(tmp_path, "cold", corpus), out=tmp_path / "cold", log=lambda *a: None).model
    load_weights(pre / "best.safetensors", loaded, warm.vocab.fingerprint)
    for part in ("encoder", "latent"):
        got, exp = _parts(warm.model, part), _parts(loaded, part)
        assert got and all(torch.equal(got[k], exp[k]) for k in got), part
    assert not all(torch.equal(v, _parts(loaded, "decoder")[k]) for k, v in _parts(warm.model, "decoder").items())


def test_pretraining_cut_short_continues_with_the_same_command(tmp_path, monkeypatch):
    import signal

    from textvae.training.trainer import Trainer, TrainingInterrupted

    corpus = write_corpus(tmp_path / "c", n_train=40)
    recipe, out = _pretrain_pair(tmp_path, corpus), tmp_path / "fb"
    fit = Trainer.fit

    def cut(self):
        if self.run.path.name.endswith("-pretrain"):
            raise TrainingInterrupted(signal.SIGTERM, self.state.step, self.run)
        fit(self)

    monkeypatch.setattr(Trainer, "fit", cut)
    result = runner.invoke(app, ["train", str(recipe), "--out", str(out)])
    assert result.exit_code == 128 + signal.SIGTERM and "run the same command again" in result.output
    assert not out.exists() and (tmp_path / "fb-pretrain" / "checkpoint.pt").is_file()
    monkeypatch.setattr(Trainer, "fit", fit)
    result = runner.invoke(app, ["train", str(recipe), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(continued)" in result.output and (out / "report.json").is_file()


@pytest.mark.parametrize(("change", "message"), [
    ({"train": {"pretrain": "none.yaml"}}, "train.pretrain: none.yaml: recipe file not found"),
    ({"model": {"latent_dim": 3}}, "ae.yaml: its model section differs from this recipe's"),
    ({"train": {"init_from": "runs/x"}}, "'train.init_from' and 'train.pretrain' both say where"),
])
def test_bad_pretrain_settings_are_one_line_errors_that_leave_no_folder(tmp_path, change, message):
    from helpers import merge

    corpus = write_corpus(tmp_path / "c", n_train=40)
    recipe = _pretrain_pair(tmp_path, corpus)
    write_recipe(recipe, merge(yaml.safe_load(recipe.read_text()), change))
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / "fb")])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "fb").exists() and not (tmp_path / "fb-pretrain").exists()


def test_init_from_a_run_with_another_vocabulary_is_an_error(tmp_path, pretrained):
    _, ae = pretrained
    other = write_corpus(tmp_path / "other", n_train=40, seed=5)
    (other / "train.txt").write_text("completely different words here\n" * 40)
    with pytest.raises(TextVAEError, match="trained with another vocabulary"):
        start_run(_recipe(tmp_path, "x", other, init_from=str(ae)), out=tmp_path / "x", log=lambda *a: None)


def test_free_bits_per_sentence_is_li_et_al_s_mask():
    kl = torch.tensor([[0.1, 2.0], [3.0, 0.2], [0.4, 0.05]], requires_grad=True)  # (N sentences, Z dims)
    out = SimpleNamespace(kl=kl)
    per_sentence = KLTerm(KLWeightConfig(), FreeBitsConfig(per_dim=0.5, per_sentence=True))
    term, logs = per_sentence(out, None, 0)
    assert float(term.detach()) == pytest.approx(((0.5 + 2.0) + (3.0 + 0.5) + (0.5 + 0.5)) / 3)
    term.backward()
    # a sentence's dimension below the target gets no gradient; above it, 1/N
    torch.testing.assert_close(kl.grad, torch.tensor([[0, 1 / 3], [1 / 3, 0], [0, 0]]))
    batch_mean = KLTerm(KLWeightConfig(), FreeBitsConfig(per_dim=0.5))(SimpleNamespace(kl=kl.detach()), None, 0)[0]
    assert float(batch_mean) == pytest.approx(max(0.5, 3.5 / 3) + max(0.5, 2.25 / 3))  # the batch-mean variant
    assert float(logs["kl"]) == pytest.approx(float(kl.detach().sum(1).mean()))
