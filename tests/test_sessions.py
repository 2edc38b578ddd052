"""Sessions: the functions the CLI, a web page and a notebook share return JSON-ready data equal to what the CLI
prints; a reopened model is in eval mode with gradients off and can be shared between threads."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae import session as sessions
from textvae.cli import app
from textvae.decoding import DecodeOptions
from textvae.models.vae import eval_mode

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sessions")
    corpus = write_corpus(tmp / "corpus")
    recipe = write_recipe(tmp / "r.yaml", tiny_recipe(corpus, model={"decoder": {"dropout": 0.5}}, train={"epochs": 2},
                                                       eval={"iw_samples": 0}))
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run"


def _cli_json(args: list[str]):
    result = runner.invoke(app, [*args, "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_session_functions_return_what_the_cli_prints(run, tmp_path):
    s = sessions.open_run(run, "cpu")
    beam = DecodeOptions(method="beam", width=3)
    calls = [
        (sessions.sample(s, 4, beam, seed=3), ["sample", str(run), "--n", "4", "--method", "beam", "--width", "3",
                                               "--seed", "3"]),
        (sessions.reconstruct(s, s.split_lines("test")[:5], samples=2, corpus=True),
         ["reconstruct", str(run), "--limit", "5", "--samples", "2"]),
        (sessions.interpolate(s, "the cat runs", "a big dog", 4), ["interpolate", str(run), "the cat runs", "a big dog",
                                                                   "--steps", "4"]),
        (sessions.analogy(s, "the cat", "a dog", "a cat"), ["arithmetic", str(run), "--analogy", "the cat",
                                                            "--analogy", "a dog", "--analogy", "a cat"]),
        (sessions.nearest(s, "the cat runs", s.split_lines("valid"), 3), ["nearest", str(run), "the cat runs",
                                                                          "--corpus", str(run.parent / "corpus" /
                                                                                          "valid.txt"), "--k", "3"]),
    ]
    for data, args in calls:
        assert json.loads(json.dumps(data)) == data  # JSON-ready: nothing but strings, numbers, lists, dicts
        assert _cli_json(args) == data, args[0]


def test_reopened_model_is_for_inference_only(run):
    s = sessions.open_run(run, "cpu")
    assert not s.model.training and not any(p.requires_grad for p in s.model.parameters())
    with eval_mode(s.model):
        assert not s.model.training and not torch.is_grad_enabled()
    assert not s.model.training


def test_eval_mode_restores_a_training_model(make_model):
    model = make_model("vae").train()
    with eval_mode(model):
        assert not model.training
    assert model.training


def test_threads_sharing_one_session_get_what_one_thread_gets(run):
    s = sessions.open_run(run, "cpu")
    lines = s.split_lines("test")
    jobs = [lambda i=i: sessions.reconstruct(s, lines[i : i + 6], DecodeOptions(method="beam", width=2), samples=1,
                                             seed=i) for i in range(6)]
    jobs += [lambda i=i: sessions.sample(s, 5, DecodeOptions(method="sample", seed=i), seed=i) for i in range(6)]
    alone = [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: job(), jobs * 2))
    assert together == alone * 2
    assert not s.model.training


def test_showcase_lists_samples_and_reconstructions(run):
    s = sessions.open_run(run, "cpu")
    show = sessions.showcase(s, "test", n=3, seed=0)
    assert show["model"] == "vae" and len(show["samples"]) == 3 and len(show["reconstructions"]) == 3
    test_inputs = {s.text(ids) for ids in s.split("test").ids}
    assert all(r["input"] in test_inputs for r in show["reconstructions"])
    assert show == sessions.showcase(s, "test", n=3, seed=0)


def test_import_textvae_is_lazy():
    code = ("import sys, textvae; assert 'torch' not in sys.modules, 'torch'; "
            "textvae.load_recipe; assert 'torch' not in sys.modules, 'config imports torch'; "
            "import textvae.session; assert 'textvae.training.trainer' not in sys.modules, 'trainer'; "
            "assert textvae.open_run is textvae.session.open_run")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
