"""What a newcomer meets in the first hour: typed text read in the corpus's style, honest labels, progress on
stderr, the version, finished runs, single-file corpora, and comparing runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config import DataConfig
from textvae.data.corpus import STYLES, input_style, split_indices
from textvae.data.normalize import Normalizer, Style
from textvae.data.source import corpus_lines
from textvae.data.vocab import Vocab

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("first")
    corpus = write_corpus(tmp / "corpus", n_train=60)
    recipe = write_recipe(tmp / "r.yaml", tiny_recipe(corpus, data={"lower": True}, train={"epochs": 1},
                                                      eval={"iw_samples": 3}))
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run", result.output


# --- typed text in the corpus's style -----------------------------------------------------------------------


PTB_VOCAB = Vocab.build([("the company said it does n't expect a $ N million loss mr. smith <unk> years old will "
                          "join board").split()])


@pytest.mark.parametrize("typed,read", [
    ("The company said it doesn't expect a $1.5 million loss.",
     "the company said it does n't expect a $ N million loss"),
    ("Mr. Smith, 45 years old, will join the board.", "mr. smith N years old will join the board"),
    ("the company said <unk> will join", "the company said <unk> will join"),  # already in the corpus's form
])
def test_typed_text_is_read_as_ptb_was_made(typed, read):
    got = Normalizer(input_style(DataConfig(corpus="ptb")), PTB_VOCAB)(typed)
    assert got.text == read and got.unknown == []


def test_unknown_words_are_reported_not_hidden():
    got = Normalizer(Style(**STYLES["ptb"]), PTB_VOCAB)("The zorblax said it expects Quuxes.")
    assert got.unknown == ["zorblax", "expects", "quuxes"] and got.text.startswith("the zorblax said")


def test_a_run_records_how_its_corpus_was_normalised_and_applies_it(run):
    path, _ = run
    config = (path / "config.yaml").read_text()
    assert "input:\n    tokenizer: moses\n    lower: true\n    numbers: ''\n    punct: keep" in config
    out = runner.invoke(app, ["interpolate", str(path), "The CAT runs.", "A big DOG", "--steps", "3", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert got["read_as"] == ["the cat runs .", "a big dog"]
    assert got["reading"] == {"words": 7, "unknown": 1, "unknown_words": ["."]}
    text = runner.invoke(app, ["interpolate", str(path), "The CAT runs.", "A big DOG", "--steps", "3"]).stdout
    assert "1 of 7 words not in the vocabulary, read as <unk>: ." in text


# --- labels, progress, version, finished runs ----------------------------------------------------------------------


def test_printed_figures_carry_their_unit_and_k(run):
    _, output = run
    lines = {ln.split()[0]: ln for ln in output.splitlines() if ln.startswith("  ") and ln.split()}
    assert "(nats/sentence, K=3 importance samples)" in lines["nll_iw"]
    assert "(per token, K=3 importance samples)" in lines["ppl_iw"]
    assert lines["au"].split()[1].isdigit() and "active units of 4" in lines["au"]
    assert "objective" in output and " loss " not in output


def test_a_cut_vocabulary_is_flagged(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, data={"vocab_size": 8}, train={"epochs": 1},
                                                           eval={"iw_samples": 2}))
    out = runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / "run")])
    assert "vocabulary cut to the 8 most frequent words" in out.output


def test_long_work_shows_progress_on_stderr_and_json_stays_clean(run):
    path, _ = run
    env = {**os.environ, "TEXTVAE_PROGRESS_AFTER": "0", "TEXTVAE_PROGRESS_EVERY": "0"}
    proc = subprocess.run([sys.executable, "-m", "textvae", "reconstruct", str(path), "--json", "--samples", "1"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sentences"] == 12
    assert "encode:" in proc.stderr and "decode (greedy):" in proc.stderr
    assert "sentences/s, ETA" in proc.stderr


def test_version():
    from textvae import __version__

    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.stdout.strip() == f"textvae {__version__}"


def test_resuming_a_finished_run_says_so(run):
    path, _ = run
    out = runner.invoke(app, ["train", "--resume", str(path)])
    assert out.exit_code == 0, out.output
    assert "finished at epoch 1" in out.output and "raise train.epochs" in out.output
    assert "resumed" not in out.output


# --- nearest -------------------------------------------------------------------------------------------------------


def test_nearest_ranks_per_token_by_default_and_says_so(run):
    path, _ = run
    got = json.loads(runner.invoke(app, ["nearest", str(path), "the big cat", "--json", "--k", "3"]).stdout)
    assert got["unit"].startswith("log p(x | z) per token") and got["candidates"] == 60
    per_sentence = json.loads(runner.invoke(app, ["nearest", str(path), "the big cat", "--json", "--k", "3",
                                                  "--per-sentence", "--pool", "10"]).stdout)
    assert per_sentence["unit"] == "log p(x | z) per sentence, nats" and per_sentence["candidates"] == 10


# --- a single text file as a corpus ---------------------------------------------------------------------------------


def test_single_file_corpus_splits_deterministically(tmp_path):
    lines = [f"sentence number {i} is here" for i in range(200)]
    (tmp_path / "all.txt").write_text("\n".join(lines) + "\n")
    cfg = DataConfig(corpus=str(tmp_path / "all.txt"), valid_fraction=0.1, test_fraction=0.05)
    parts = {s: corpus_lines(cfg, s) for s in ("train", "valid", "test")}
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [170, 20, 10]
    assert sorted(sum(parts.values(), [])) == sorted(lines)  # a partition of the file
    assert parts == {s: corpus_lines(cfg, s) for s in parts}  # the same every time
    assert parts["valid"] == [lines[i] for i in sorted(split_indices(200, 0.1, 0.05, 0)["valid"])]
    assert corpus_lines(DataConfig(corpus=cfg.corpus, split_seed=1), "test") != corpus_lines(
        DataConfig(corpus=cfg.corpus), "test")


def test_single_raw_text_file_trains(tmp_path):
    text = ["The cat sat on the mat.", "A dog doesn't like cats!", "Is it raining today?", "We'll see, said he."] * 10
    (tmp_path / "story.txt").write_text("\n".join(text) + "\n")
    recipe = tiny_recipe(tmp_path / "story.txt", data={"tokenizer": "moses", "lower": True}, train={"epochs": 1},
                         eval={"iw_samples": 0})
    out = runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", recipe)), "--out",
                              str(tmp_path / "run")])
    assert out.exit_code == 0, out.output
    vocab = (tmp_path / "run" / "vocab.txt").read_text().split("\n")
    assert "n't" in vocab or "'t" in vocab and "cat" in vocab and "." in vocab and "The" not in vocab


# --- comparing runs ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, run):
    tmp = tmp_path_factory.mktemp("compare")
    corpus = write_corpus(tmp / "corpus")
    for name, latent in (("small", 2), ("large", 6)):
        recipe = write_recipe(tmp / f"{name}.yaml", tiny_recipe(corpus, model={"latent_dim": latent},
                                                                train={"epochs": 1}, eval={"iw_samples": 2}))
        assert runner.invoke(app, ["train", str(recipe), "--out", str(tmp / "runs" / name)]).exit_code == 0
    return tmp / "runs"


def test_compare_prints_one_table_with_k(two_runs, tmp_path):
    text = runner.invoke(app, ["compare", str(two_runs)]).stdout
    rows = [ln for ln in text.splitlines() if str(two_runs) in ln]
    assert len(rows) == 2 and all("(K=2)" in r for r in rows) and "z 2" in rows[1] and "z 6" in rows[0]
    got = json.loads(runner.invoke(app, ["compare", str(two_runs / "*"), "--json"]).stdout)
    reports = [json.loads((two_runs / n / "report.json").read_text()) for n in ("large", "small")]
    assert [r["nll_iw"] for r in got["rows"]] == [r["nll_iw"] for r in reports]
    assert [r["iw_samples"] for r in got["rows"]] == [2, 2] and [r["params"] for r in got["rows"]] == [
        r["params"] for r in reports]
    csv = runner.invoke(app, ["compare", str(two_runs / "small"), str(two_runs / "large"), "--csv"]).stdout
    assert csv.splitlines()[0].startswith("run,name,type,model") and len(csv.splitlines()) == 3
    out = runner.invoke(app, ["compare", str(two_runs), "--plot", "nll_iw", "--plot", "kl", "--out",
                              str(tmp_path / "c.png")])
    assert out.exit_code == 0 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["compare", str(tmp_path / "nothing*")])
    assert bad.exit_code == 2 and "matches no run folder" in bad.stderr
