"""Bad input: one line on stderr naming the option, file or value and what is allowed, exit status 2, no
traceback, and nothing half-written: a failed start leaves no folder, so the same command can run again."""

from __future__ import annotations

import json
import os

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app

runner = CliRunner()


def _fails(args: list[str], *needles: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr and result.exception is None or isinstance(
        result.exception, SystemExit)
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("bad") / "corpus", n_train=30, n_eval=6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    tmp = tmp_path_factory.mktemp("trained")
    recipe = write_recipe(tmp / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 2}))
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run"


BAD_SETTINGS = [
    ("data.batch_size=0", "'data.batch_size' must be >= 1"),
    ("data.batch_size=-2", "'data.batch_size' must be >= 1"),
    ("data.eval_batch_size=0", "'data.eval_batch_size' must be >= 1"),
    ("data.vocab_size=3", "'data.vocab_size' must be 0 (no limit) or more than the 4 special tokens"),
    ("train.lr=-0.001", "'train.lr' must be > 0"),
    ("train.lr=0", "'train.lr' must be > 0"),
    ("train.epochs=0", "'train.epochs' must be >= 1"),
    ("train.threads=-1", "'train.threads' must be >= 0"),
    ("train.checkpoint_every=0", "'train.checkpoint_every' must be >= 1"),
    ("train.log_every=0", "'train.log_every' must be >= 1"),
    ("train.device=gpu", "'train.device' must be auto, cpu, cuda, cuda:N or mps"),
    ("model.latent_dim=0", "'model.latent_dim' must be >= 1"),
    ("model.latent_dim=-3", "'model.latent_dim' must be >= 1"),
    ("model.decoder.hidden_dim=0", "'model.decoder.hidden_dim' must be >= 1"),
    ("model.encoder.embed_dim=0", "'model.encoder.embed_dim' must be >= 1"),
    ("model.decoder.dropout=1.5", "'model.decoder.dropout' must be in [0, 1)"),
    ("objective.kl_weight.value=-1", "'objective.kl_weight.value' must be >= 0"),
    ("objective.word_dropout.keep=2", "'objective.word_dropout.keep' must be in [0, 1]"),
    ("eval.iw_samples=-1", "'eval.iw_samples' must be >= 0"),
    ("train.epochs=[", "--set train.epochs=[: not a valid YAML value"),
    ("train.lr=.nan", "'train.lr' must be > 0, got nan"),
    ("data.max_len=1", "lines are longer than data.max_len=1 tokens: nothing to train on"),
]


@pytest.mark.parametrize("setting,message", BAD_SETTINGS, ids=[s for s, _ in BAD_SETTINGS])
def test_bad_recipe_values_fail_before_anything_is_written(tmp_path, corpus, setting, message):
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus))
    args = ["train", str(recipe), "--out", str(tmp_path / "run"), "--set", setting]
    _fails(args, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]  # no run folder, no staging folder
    _fails(args, message)  # the same command fails the same way: nothing is stuck


def test_a_device_that_is_not_here(tmp_path, corpus):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus))
    _fails(["train", str(recipe), "--out", str(tmp_path / "run"), "--device", "cuda"], "device 'cuda'", "use auto")
    assert not (tmp_path / "run").exists()


def test_an_empty_recipe_file(tmp_path):
    (tmp_path / "r.yaml").write_text("\n# nothing\n")
    _fails(["train", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "run")], "r.yaml: recipe file is empty")


def test_floats_without_a_dot_are_numbers(tmp_path, corpus):
    text = (write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}))).read_text()
    (tmp_path / "r.yaml").write_text(text.replace("train:\n", "train:\n  lr: 1e-3\n  min_lr: 1E-6\n"))
    result = runner.invoke(app, ["train", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "run"), "--set",
                                 "train.weight_decay=5e-5"])
    assert result.exit_code == 0, result.output
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "lr: 0.001" in config and "weight_decay: 5.0e-05" in config


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_out_that_cannot_be_a_run_folder(tmp_path, corpus, where):
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus))
    (tmp_path / "f").write_text("mine")
    out = tmp_path / "f" if where == "a file" else tmp_path / "f" / "run"
    _fails(["train", str(recipe), "--out", str(out)], f"--out {out}")
    assert (tmp_path / "f").read_text() == "mine"


def test_out_that_is_not_writable(tmp_path, corpus):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus))
    (tmp_path / "ro").mkdir(mode=0o555)
    _fails(["train", str(recipe), "--out", str(tmp_path / "ro" / "run")], "cannot create the run folder")


def test_out_that_holds_other_files(tmp_path, corpus):
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    _fails(["train", str(recipe), "--out", str(tmp_path / "run")], "not empty and holds no run")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["notes.txt"]


def test_an_empty_out_folder_is_used(tmp_path, corpus):
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 0}))
    (tmp_path / "run").mkdir()
    assert runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / "run")]).exit_code == 0
    assert (tmp_path / "run" / "report.json").is_file()


def test_nul_bytes_in_a_corpus_file(tmp_path, corpus):
    bad = tmp_path / "corpus"
    bad.mkdir()
    for f in corpus.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "train.txt").write_bytes(b"the cat\nthe d\x00og runs\n")
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(bad))
    _fails(["train", str(recipe), "--out", str(tmp_path / "run")], "train.txt:2: contains a NUL byte")


@pytest.mark.parametrize("args,message", [
    (["evaluate", "RUN", "--iw-samples", "-1"], "--iw-samples: must be >= 0"),
    (["nearest", "RUN", "a cat", "--k", "-1"], "--k: must be >= 1"),
    (["nearest", "RUN", "a cat", "--k", "0"], "--k: must be >= 1"),
    (["reconstruct", "RUN", "--limit", "-2"], "--limit: must be >= 0"),
    (["reconstruct", "RUN", "--samples", "-1"], "--samples: must be >= 0"),
    (["generate-eval", "RUN", "--refs", "-1"], "--refs: must be >= 0"),
    (["arithmetic", "RUN", "--analogy", "a", "--analogy", "b", "--analogy", "c", "--limit", "-1"], "--limit"),
    (["sample", "RUN", "--device", "cuda:7"], "device 'cuda:7'"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_bad_command_options(trained, args, message):
    if "cuda:7" in args and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    _fails([str(trained) if a == "RUN" else a for a in args], message)


def test_encode_out_under_a_file(trained, tmp_path):
    (tmp_path / "lines.txt").write_text("a cat\n")
    (tmp_path / "f").write_text("mine")
    _fails(["encode", str(trained), str(tmp_path / "lines.txt"), "--out", str(tmp_path / "f" / "z.npy")],
           "cannot write here")
    assert (tmp_path / "f").read_text() == "mine"


def test_encode_npy_never_leaves_a_stale_logvar_beside_new_codes(trained, tmp_path, monkeypatch):
    from textvae.session import latent

    (tmp_path / "lines.txt").write_text("a cat\nthe dog runs\n")
    out = tmp_path / "z.npy"
    assert runner.invoke(app, ["encode", str(trained), str(tmp_path / "lines.txt"), "--out", str(out)]).exit_code == 0
    old_mu = out.read_bytes()
    (tmp_path / "lines.txt").write_text("a big red cat\n")
    save = latent._save_npy

    def die_after_mu(path, t):
        save(path, t)
        raise KeyboardInterrupt  # killed between the two files

    monkeypatch.setattr(latent, "_save_npy", die_after_mu)
    runner.invoke(app, ["encode", str(trained), str(tmp_path / "lines.txt"), "--out", str(out)])
    assert out.read_bytes() != old_mu and not (tmp_path / "z.logvar.npy").exists()


def test_corrupted_weights_are_an_error_and_keep_earlier_results(trained, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = (run / "eval_test.json").read_text()
    data = bytearray((run / "best.safetensors").read_bytes())
    data[-7] ^= 0x40  # one bit of one weight
    (run / "best.safetensors").write_bytes(bytes(data))
    _fails(["evaluate", str(run)], "best.safetensors: weights file is corrupted")
    assert (run / "eval_test.json").read_text() == before


def test_reports_are_strict_json(trained):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    for name in ("report.json", "eval_test.json"):
        json.loads((trained / name).read_text(), parse_constant=refuse)
