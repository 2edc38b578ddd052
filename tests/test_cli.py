"""The command line: a tiny end-to-end run, and bad input giving one-line errors with nothing half-written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app

runner = CliRunner()


def _fails_cleanly(result, *needles):
    """Exit code 2, exactly one line on stderr starting with 'error:', naming what is wrong."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    corpus = write_corpus(tmp / "corpus")
    recipe = write_recipe(tmp / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}))
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp, result


def test_train_writes_run_and_prints_report(trained_run):
    tmp, result = trained_run
    run = tmp / "run"
    for name in ("config.yaml", "vocab.txt", "checkpoint.pt", "best.safetensors", "metrics.jsonl", "report.json"):
        assert (run / name).is_file(), name
    report = json.loads((run / "report.json").read_text())
    assert report["nll_iw"] <= report["neg_elbo"] + 1.0
    assert "samples from the prior" in result.output and "nll_iw" in result.output
    assert not list(run.glob(".*.tmp")), "temporary files left behind"


def test_evaluate_json(trained_run):
    tmp, _ = trained_run
    result = runner.invoke(app, ["evaluate", str(tmp / "run"), "--split", "valid", "--json", "--iw-samples", "3"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["split"] == "valid" and metrics["iw_samples"] == 3
    assert (tmp / "run" / "eval_valid.json").is_file()


def test_resume_of_finished_run_only_reports(trained_run):
    tmp, _ = trained_run
    result = runner.invoke(app, ["train", "--resume", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    assert "nll_iw" in result.output


def _train(tmp_path, recipe_dict=None, corpus=None):
    corpus = corpus or write_corpus(tmp_path / "corpus")
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict or tiny_recipe(corpus))
    return runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / "run")])


def test_empty_file(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "valid.txt").write_text("\n  \n", encoding="utf-8")
    _fails_cleanly(_train(tmp_path, corpus=corpus), "valid.txt", "empty")
    assert not (tmp_path / "run").exists()


def test_not_utf8(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "train.txt").write_bytes(b"a cat\nthe dog \xff\xfe sees\n")
    _fails_cleanly(_train(tmp_path, corpus=corpus), "train.txt:2", "UTF-8")
    assert not (tmp_path / "run").exists()


def test_missing_split(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "test.txt").unlink()
    _fails_cleanly(_train(tmp_path, corpus=corpus), "missing test split")


def test_unknown_recipe_key(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = tiny_recipe(corpus, model={"hiden_dim": 3})
    _fails_cleanly(_train(tmp_path, recipe, corpus), "r.yaml", "model.hiden_dim")
    assert not (tmp_path / "run").exists()


def test_wrong_type_in_recipe(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = tiny_recipe(corpus, train={"epochs": "many"})
    _fails_cleanly(_train(tmp_path, recipe, corpus), "train.epochs", "int")


def test_bad_choice_in_recipe(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = tiny_recipe(corpus, objective={"kl_weight": {"schedule": "cosine"}})
    _fails_cleanly(_train(tmp_path, recipe, corpus), "objective.kl_weight.schedule")


def test_checkpoint_from_another_vocabulary(trained_run, tmp_path):
    tmp, _ = trained_run
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tmp / "run", run)
    vocab = (run / "vocab.txt").read_text().splitlines()
    (run / "vocab.txt").write_text("\n".join(vocab[:4] + vocab[5:] + vocab[4:5]) + "\n")
    _fails_cleanly(runner.invoke(app, ["evaluate", str(run)]), "best.safetensors", "another vocabulary")
    _fails_cleanly(runner.invoke(app, ["train", "--resume", str(run)]), "checkpoint.pt", "another vocabulary")


def test_existing_run_folder_is_not_overwritten(trained_run):
    tmp, _ = trained_run
    recipe = tmp / "r.yaml"
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp / "run")])
    _fails_cleanly(result, "already holds a run", "--resume")


def test_resume_refuses_a_recipe_or_overrides(trained_run):
    tmp, _ = trained_run
    result = runner.invoke(app, ["train", "--resume", str(tmp / "run"), "--set", "train.epochs=5"])
    _fails_cleanly(result, "--resume", "--set")


def test_real_process_exit_code_and_no_traceback(tmp_path):
    """The installed entry point, not the test runner: non-zero exit and one line on stderr."""
    recipe = write_recipe(tmp_path / "r.yaml", {"nmae": "x"})
    proc = subprocess.run([sys.executable, "-m", "textvae.cli", "train", str(recipe)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown key 'nmae'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tensorboard_log(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = tiny_recipe(corpus, train={"epochs": 1, "tensorboard": True}, eval={"iw_samples": 2})
    result = _train(tmp_path, recipe, corpus)
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_character_level_run(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n_train=30)
    recipe = tiny_recipe(corpus, data={"tokenizer": "char"}, train={"epochs": 1}, eval={"iw_samples": 2})
    result = _train(tmp_path, recipe, corpus)
    assert result.exit_code == 0, result.output
    vocab = (tmp_path / "run" / "vocab.txt").read_text(encoding="utf-8").split("\n")[4:-1]
    assert " " in vocab and all(len(tok) == 1 for tok in vocab)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    lines = (corpus / "test.txt").read_text().splitlines()
    assert report["tokens"] == sum(len(" ".join(ln.split())) + 1 for ln in lines)


def test_plot_writes_a_png_and_fails_cleanly_without_a_log(trained_run, tmp_path):
    tmp, _ = trained_run
    result = runner.invoke(app, ["plot", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    png = tmp / "run" / "plots" / "training.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    _fails_cleanly(runner.invoke(app, ["plot", str(tmp_path)]), "no metrics log")


@pytest.mark.parametrize("module", ["textvae.cli", "textvae"])
def test_python_m_lists_every_registered_command(module):
    names = [c.name or c.callback.__name__ for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert len(names) == 21
    assert {"generate-eval", "compare", "impute", "impute-eval", "adversarial", "canvas", "corpus", "prepare", "web",
            "study", "recipes", "reproduce"} <= set(names)
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True,
                         env={**os.environ, "COLUMNS": "100"})
    listed = re.findall(r"^\W+([a-z][a-z-]+) ", out.stdout, flags=re.M)
    assert set(names) <= set(listed), set(names) - set(listed)


def test_a_multi_process_launch_without_torchrun_stops_before_writing_anything(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}))
    proc = subprocess.run([sys.executable, "-m", "textvae.cli", "train", str(recipe), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "WORLD_SIZE": "2"})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "WORLD_SIZE=2 but RANK, MASTER_ADDR, MASTER_PORT not set" in proc.stderr and "torchrun" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_the_cli_turns_only_textvae_errors_into_one_line(monkeypatch, tmp_path):
    """A ValueError that is not a BadValue is a bug: it keeps its traceback (exit 1), not `error:` (exit 2)."""
    from textvae import session

    def broken(*args, **kwargs):
        raise ValueError("an internal invariant")

    monkeypatch.setattr(session, "open_run", broken)
    result = runner.invoke(app, ["sample", str(tmp_path)])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
    assert "error: an internal invariant" not in result.output
    monkeypatch.setattr(session, "open_run", lambda *a, **k: (_ for _ in ()).throw(session_error()))
    result = runner.invoke(app, ["sample", str(tmp_path)])
    assert result.exit_code == 2 and "error: --steps: must be at least 2" in result.output


def session_error():
    from textvae.errors import BadValue

    return BadValue("steps", "must be at least 2")
