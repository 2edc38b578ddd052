"""Imputing missing words: visible words kept, exact on enumerable spaces, ICM never worse under its own code,
right-to-left models, the adversarial error, and the commands."""

from __future__ import annotations

import itertools
import json
import random

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app
from textvae.data.batching import make_batch
from textvae.imputation import ICMImputer, blank_out, constrained_beam
from textvae.imputation.adversarial import adversarial_errors

runner = CliRunner()
WORDS = [4, 5, 6]  # a vocabulary of 7: the 4 specials and 3 words


def _peaked(make_model, model_type="vae", seed=0, vocab_size=7):
    model = make_model(model_type, vocab_size=vocab_size, seed=seed, latent_dim=3)
    with torch.no_grad():
        model.decoder.out.weight.mul_(4.0)
    return model


@torch.no_grad()
def _log_px(model, sentences, z):
    batch = make_batch(sentences, list(range(len(sentences))))
    return -model.rec(batch, None if z is None else z.expand(len(sentences), -1))


def _blanked(n: int, seed: int, vocab_size: int = 7, max_len: int = 6):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.randrange(4, vocab_size) for _ in range(rng.randint(1, max_len))]
        out.append([None if rng.random() < 0.4 else w for w in words])
    return out


@pytest.mark.parametrize("model_type", ["vae", "lm"])
def test_visible_words_are_never_changed_and_blanks_get_words(make_model, model_type):
    model = _peaked(make_model, model_type, vocab_size=12)
    sentences = _blanked(40, 1, vocab_size=12, max_len=9) + [[5, 6, 7]]  # the last has no blank
    out = ICMImputer(3, 4, batch_size=32)(model, sentences)
    for s, r in zip(sentences, out, strict=True):
        assert len(r.ids) == len(s)
        assert all(w is None or r.ids[i] == w for i, w in enumerate(s))
        assert all(r.ids[i] >= 4 for i, w in enumerate(s) if w is None)  # a word, never a special
    assert out[-1].ids == [5, 6, 7]  # nothing missing: the sentence comes back as it was


def test_constrained_beam_finds_the_exact_best_completion(make_model):
    sentences = [[None, 5, None], [4, None, None, 6], [None], [None, None, None, None], [None, 6, None, None]]
    narrow_missed = 0
    for seed in range(4):
        model = _peaked(make_model, seed=seed)
        z = torch.randn(len(sentences), 3, generator=torch.Generator().manual_seed(seed)) * 2
        got, scores = constrained_beam(model, z, sentences, width=81)
        narrow, _ = constrained_beam(model, z, sentences, width=1)
        for i, s in enumerate(sentences):
            blanks = [j for j, w in enumerate(s) if w is None]
            cands = []
            for fill in itertools.product(WORDS, repeat=len(blanks)):
                c = list(s)
                for j, w in zip(blanks, fill, strict=True):
                    c[j] = w
                cands.append(c)
            logp = _log_px(model, cands, z[i : i + 1])
            assert got[i] == cands[int(logp.argmax())]
            assert float(scores[i]) == pytest.approx(float(logp.max()), abs=1e-4)
            narrow_missed += narrow[i] != got[i]
    assert narrow_missed > 0  # a narrow beam misses the best completion somewhere: the search does the work


def test_each_icm_round_is_no_worse_under_its_own_code(make_model):
    """With an exhaustive beam, round k's completion maximises log p(x | z_k) over completions, so it is at least
    as likely under z_k as round k-1's completion; and the imputer keeps the round of best joint score."""
    model = _peaked(make_model, seed=3)
    with torch.no_grad():  # a code that follows its sentence closely, so that rounds move
        model.decoder.init.weight.mul_(3.0)
        model.latent.proj.weight.mul_(6.0)
    sentences = _blanked(12, 4, max_len=4)
    icm = ICMImputer(4, 81, batch_size=81 * 12)  # one chunk: the trace holds one entry per round
    icm.trace = []
    out = icm(model, sentences)
    rounds = icm.trace
    assert len(rounds) == 4 and sorted(rounds[0]["index"]) == list(range(len(sentences)))
    changed = 0
    for k in range(1, 4):
        z = rounds[k]["z"]
        for i in range(len(sentences)):
            before = float(_log_px(model, [rounds[k - 1]["ids"][i]], z[i : i + 1])[0])
            assert float(rounds[k]["log_px"][i]) >= before - 1e-4
            changed += rounds[k]["ids"][i] != rounds[k - 1]["ids"][i]
    for i, j in enumerate(rounds[0]["index"]):  # row i of the trace is sentence j
        r = out[j]
        assert r.ids == max((t["ids"][i] for t in rounds), key=lambda ids: ids == r.ids)
        joint = [float(t["log_px"][i]) - 0.5 * float((t["z"][i] ** 2).sum()) for t in rounds]
        assert joint[r.iteration - 1] >= max(joint) - 1e-4  # a round of best joint score (converged rounds tie)
    assert changed > 0  # the rounds do move: the property is not vacuous


def test_masks_hide_what_they_say():
    rng = random.Random(0)
    blanked, hidden = blank_out(list(range(10, 20)), "final20", rng)
    assert hidden == [8, 9] and blanked[:8] == list(range(10, 18)) and blanked[8:] == [None, None]
    _, hidden = blank_out([7], "final20", rng)
    assert hidden == [0]  # at least one word
    _, hidden = blank_out(list(range(20)), "random30", rng)
    assert len(hidden) == 6 and len(set(hidden)) == 6 and hidden != list(range(14, 20))


def test_adversarial_error_is_near_zero_for_the_truth_and_large_for_a_fixed_token():
    rng = random.Random(0)
    sentences = [[rng.randrange(4, 60) for _ in range(rng.randint(4, 12))] for _ in range(1200)]
    true, other = sentences[:600], sentences[600:]
    same = adversarial_errors(true, other, 60, seed=1)  # "imputations" that are true sentences
    assert abs(same["unigram"]["adversarial_error"]) < 10 and abs(same["lstm"]["adversarial_error"]) < 10
    fixed = adversarial_errors(true, [s[:-2] + [5, 5] for s in other], 60, seed=1)  # the final words always 5 5
    assert fixed["unigram"]["adversarial_error"] > 30 and fixed["lstm"]["adversarial_error"] > 30
    assert fixed["sizes"] == {"train": 960, "dev": 120, "test": 120}


# --- runs, right to left, commands ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("impute")
    corpus = write_corpus(tmp / "corpus", n_train=80, n_eval=24)
    for name, section in (("vae", {"model": {"type": "vae"}}), ("lm", {"model": {"type": "lm"}}),
                          ("r2l", {"model": {"type": "vae"}, "data": {"reverse": True}})):
        recipe = write_recipe(tmp / f"{name}.yaml", tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 0},
                                                                **section))
        out = runner.invoke(app, ["train", str(recipe), "--out", str(tmp / name)])
        assert out.exit_code == 0, out.output
    return tmp


def test_right_to_left_runs_read_and_write_in_reading_order(runs):
    from textvae.session import open_run

    s = open_run(runs / "r2l", "cpu")
    line = s.split_lines("test")[0]
    assert s.reverse and s.ids(line) == s.vocab.encode(line.split())[::-1]
    assert s.split("test").ids[0] == s.ids(line)  # the model's data are reversed
    assert s.text(s.ids(line)) == line and s.read(line).text == line


@pytest.mark.parametrize("run", ["vae", "lm", "r2l"])
def test_impute_split_keeps_visible_words_in_reading_order(runs, run):
    out = runner.invoke(app, ["impute", str(runs / run), "--split", "test", "--json", "--width", "3"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert r["sentences"] == 24 and r["missing_words"] >= 24 and 0 <= r["recovered"] <= r["missing_words"]
    for row in r["rows"]:
        true, out_words = row["true"].split(), row["output"].split()
        assert len(true) == len(out_words)
        assert all(true[i] == out_words[i] for i in range(len(true)) if i not in row["hidden"])
        assert row["hidden"] == list(range(len(true) - len(row["hidden"]), len(true)))  # the final words


def test_impute_typed_sentences(runs, tmp_path):
    out = json.loads(runner.invoke(app, ["impute", str(runs / "vae"), "the ___ cat ___ ___", "a dog runs",
                                         "--json"]).stdout)
    first, second = out["sentences"]
    assert first["read_as"] == "the ___ cat ___ ___" and len(first["filled"]) == 3
    words = first["output"].split()
    assert words[0] == "the" and words[2] == "cat" and len(words) == 5
    assert second["output"] == "a dog runs" and second["filled"] == []
    (tmp_path / "in.txt").write_text("a XX dog\nthe XX\n")
    out = json.loads(runner.invoke(app, ["impute", str(runs / "lm"), "--input", str(tmp_path / "in.txt"),
                                         "--blank", "XX", "--json"]).stdout)
    assert [len(r["output"].split()) for r in out["sentences"]] == [3, 2] and out["method"] == "beam 15"


@pytest.mark.parametrize("args,message", [
    (["impute", "RUN"], "give sentences, --input FILE or --split SPLIT"),
    (["impute", "RUN", "a b", "--split", "test"], "give sentences, --input FILE or --split SPLIT"),
    (["impute", "RUN", ""], "sentence 1: empty"),
    (["impute", "RUN", "a ___", "--blank", ""], "--blank: the blank marker must not be empty"),
    (["impute", "RUN", "a ___", "--method", "gibbs"], "--method: must be icm, beam or em, got 'gibbs'"),
    (["impute", "RUN", "a ___", "--width", "0"], "--width: must be >= 1"),
    (["impute-eval", "RUN", "--mask", "middle"], "--mask: must be final20 or random30, got 'middle'"),
    (["adversarial", "RUN", "--lm", "RUN"], ": must be a language model run"),
    (["adversarial", "RUN", "--limit", "12"], "at least 10 true and 10 imputed"),
])
def test_bad_imputation_input(runs, args, message):
    out = runner.invoke(app, [str(runs / "vae") if a == "RUN" else a for a in args])
    assert out.exit_code == 2, out.output
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_impute_eval_and_adversarial_commands(runs, tmp_path):
    ev = json.loads(runner.invoke(app, ["impute-eval", str(runs / "vae"), "--mask", "random30", "--json"]).stdout)
    assert ev["mask"] == "random30" and ev["sentences"] == 24 and "rows" not in ev
    out = runner.invoke(app, ["adversarial", str(runs / "vae"), "--lm", str(runs / "lm"), "--split", "valid",
                              "--json", "--out", str(tmp_path / "adv")])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert r["sentences"] == 24 and set(r["unigram"]) >= {"adversarial_error", "test_accuracy", "C"}
    assert r["lm_nll"]["imputed"] > 0 and r["lm_nll"]["true"] > 0
    assert json.loads((tmp_path / "adv" / "adversarial.json").read_text())["method"] == "icm 3x beam 5"
