"""What a user meets in the second hour: a first own recipe that says when it collapses, VAE defaults that work,
a final evaluation sized to the run with its ETA told first, recipes found by name, and the commands made alike."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config import load_recipe
from textvae.config.bundled import bundled_recipes, find_recipe, recipe_root
from textvae.config.loader import DEFAULT_VAE_OBJECTIVE
from textvae.errors import TextVAEError
from textvae.evaluation.collapse import collapse_note, is_collapsed

runner = CliRunner()


# --- posterior collapse is said, with what to try ------------------------------------------------------------


@pytest.mark.parametrize("kl,au,collapsed", [(0.0, 0, True), (0.099, 5, True), (3.0, 0, True), (0.1, 1, False),
                                             (12.0, 13, False)])
def test_collapse_is_a_kl_under_a_tenth_of_a_nat_or_no_active_unit(kl, au, collapsed):
    metrics = {"kl": kl, "au": au, "z_dim": 13}
    assert is_collapsed(metrics) is collapsed
    note = collapse_note(metrics, "test")
    assert (note is not None) is collapsed
    if collapsed:
        assert f"KL {kl:.2f}" in note and f"{au} of 13 active units" in note and "free_bits" in note


def test_models_without_a_kl_are_never_collapsed():
    assert not is_collapsed({"nll": 40.0}) and not is_collapsed({"rec": 3.0, "au": 0})


@pytest.fixture(scope="module")
def collapsed_run(tmp_path_factory):
    """A tiny VAE whose KL weight of 1,000 drives every code to the prior: collapse, for certain."""
    tmp = tmp_path_factory.mktemp("collapsed")
    corpus = write_corpus(tmp / "corpus")
    raw = tiny_recipe(corpus, objective={"kl_weight": {"schedule": "constant", "value": 1000.0}, "word_dropout": {}},
                      train={"epochs": 2, "lr": 0.01}, eval={"iw_samples": 3})
    result = runner.invoke(app, ["train", str(write_recipe(tmp / "r.yaml", raw)), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run", result


def test_a_collapsed_run_says_so_at_validation_and_in_its_report(collapsed_run):
    path, result = collapsed_run
    warnings = [x for x in result.stdout.splitlines() if x.startswith("warning: posterior collapse")]
    assert any("epoch 2 validation" in x for x in warnings), result.stdout
    assert any(x.strip().startswith("warning: posterior collapse: test KL") for x in result.stdout.splitlines())
    report = json.loads((path / "report.json").read_text())
    assert report["collapsed"] is True and report["au"] == 0


# --- a VAE recipe that names no objective gets the measured defaults ------------------------------------------


def test_a_vae_recipe_without_an_objective_gets_the_demo_objective_and_says_so(tmp_path):
    said = []
    path = write_recipe(tmp_path / "r.yaml", {"name": "mine", "data": {"corpus": "snli"}, "model": {"type": "vae"}})
    r = load_recipe(path, log=said.append)
    assert r.objective.free_bits.per_dim == DEFAULT_VAE_OBJECTIVE["free_bits"]["per_dim"] == 1.0
    assert r.objective.bow.weight == 1.0 and r.objective.word_dropout.keep == 0.5
    assert r.objective.kl_weight.schedule == "linear" and r.objective.kl_weight.steps == 2000
    assert len(said) == 1 and "names none" in said[0] and "objective: {}" in said[0]
    # the demo's objective is the default one (one place for the measured settings)
    assert load_recipe("quick").objective == r.objective


@pytest.mark.parametrize("extra", [{"objective": {}}, {"model": {"type": "ae"}}, {"model": {"type": "lm"}}])
def test_an_explicit_objective_or_a_model_without_a_kl_keeps_the_plain_defaults(tmp_path, extra):
    said = []
    raw = {"name": "mine", "data": {"corpus": "snli"}, "model": {"type": "vae"}, **extra}
    r = load_recipe(write_recipe(tmp_path / "r.yaml", raw), log=said.append)
    assert said == [] and r.objective.free_bits.per_dim == 0.0 and r.objective.bow.weight == 0.0


def test_an_objective_given_by_set_counts_as_named(tmp_path):
    said = []
    path = write_recipe(tmp_path / "r.yaml", {"name": "mine", "data": {"corpus": "snli"}})
    r = load_recipe(path, ["objective.free_bits.per_dim=0.5"], log=said.append)
    assert said == [] and r.objective.free_bits.per_dim == 0.5 and r.objective.bow.weight == 0.0


def test_the_run_log_says_which_objective_it_chose_and_resume_keeps_it(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    raw = tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 2})
    del raw["objective"]
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "the recipe names none" in result.stdout
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["objective"]["free_bits"]["per_dim"] == 1.0  # the run's config.yaml names it: resume is exact


# --- the final evaluation: K sized to the run, its ETA told before it starts ---------------------------------


def test_the_final_evaluation_uses_final_iw_samples_and_announces_itself(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    raw = tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 500, "final_iw_samples": 4})
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["iw_samples"] == 4
    line = next(x for x in result.stderr.splitlines() if x.startswith("evaluating the test split"))
    assert "12 sentences" in line and "nll_iw with K=4" in line and "--iw-samples 500" in line and "about 0:" in line
    # K is at most eval.iw_samples; --iw-samples sets it for one run
    raw["eval"] = {"iw_samples": 3}
    write_recipe(tmp_path / "r2.yaml", raw)
    result = runner.invoke(app, ["train", str(tmp_path / "r2.yaml"), "--out", str(tmp_path / "run2")])
    assert json.loads((tmp_path / "run2" / "report.json").read_text())["iw_samples"] == 3
    result = runner.invoke(app, ["train", str(tmp_path / "r2.yaml"), "--out", str(tmp_path / "run3"),
                                 "--iw-samples", "6"])
    assert json.loads((tmp_path / "run3" / "report.json").read_text())["iw_samples"] == 6


def test_final_iw_samples_is_range_checked(tmp_path):
    path = write_recipe(tmp_path / "r.yaml", {"eval": {"final_iw_samples": -1}})
    with pytest.raises(TextVAEError, match="eval.final_iw_samples' must be >= 0"):
        load_recipe(path)


def test_the_estimate_scales_with_the_split_and_k(tmp_path):
    from textvae.session import evaluation_plan, open_run

    corpus = write_corpus(tmp_path / "corpus", n_eval=40)
    raw = tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 0})
    assert runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--out",
                               str(tmp_path / "run")]).exit_code == 0
    s = open_run(tmp_path / "run")
    plan = evaluation_plan(s, "test", 200)
    assert plan["sentences"] == 40 and plan["iw_samples"] == 200 and plan["seconds"] > 0
    assert plan["tokens"] == s.split("test").n_tokens


# --- recipes by name ------------------------------------------------------------------------------------------


def test_bundled_recipes_are_found_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_recipe("quick") == recipe_root() / "quick.yaml"
    assert find_recipe("bowman2016/ptb_vae.yaml") == recipe_root() / "bowman2016" / "ptb_vae.yaml"
    assert find_recipe("recipes/quick.yaml") == recipe_root() / "quick.yaml"  # the README's path, elsewhere
    assert load_recipe("liu2019/ptb_vrae").name
    with pytest.raises(TextVAEError, match="did you mean .*bowman2016/ptb_vae"):
        find_recipe("ptb_vae")
    (tmp_path / "quick.yaml").write_text("name: mine\n")
    assert find_recipe("quick.yaml").resolve() == tmp_path / "quick.yaml"  # a file of that name comes first


def test_recipes_lists_every_bundled_recipe_with_its_summary():
    result = runner.invoke(app, ["recipes", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert set(got) == set(bundled_recipes()) and len(got) > 70
    assert got["quick"]["summary"].startswith("The README's quick demo")


# --- docs: the module map names every module ------------------------------------------------------------------


def test_the_design_module_map_names_every_module():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    design = (root / "docs" / "design.md").read_text()
    start = design.index("```\ntextvae/")
    block = design[start:design.index("```\n", start + 4)]
    listed = {line.split()[0] for line in block.splitlines()[2:] if line.strip()}
    package = root / "src" / "textvae"
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    assert modules == listed, (sorted(modules - listed), sorted(listed - modules))


# --- the commands made alike ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    corpus = write_corpus(tmp / "corpus")
    raw = tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 2})
    result = runner.invoke(app, ["train", str(write_recipe(tmp / "r.yaml", raw)), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run"


def test_reconstruct_takes_typed_sentences_and_shows_them_in_words(tiny_run):
    out = runner.invoke(app, ["reconstruct", str(tiny_run), "the cat sees a zorblax !", "a dog runs", "--samples", "1",
                              "--json"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert r["sentences"] == 2 and [e["input"] for e in r["examples"]] == ["the cat sees a zorblax !", "a dog runs"]
    assert r["examples"][0]["read_as"].startswith("the cat sees a zorblax")  # words, as arithmetic shows them
    assert r["reading"]["unknown_words"][0] == "zorblax"
    text = runner.invoke(app, ["reconstruct", str(tiny_run), "the cat sees a zorblax"]).stdout
    assert "input:  the cat sees a zorblax" in text and "not in the vocabulary" in text
    both = runner.invoke(app, ["reconstruct", str(tiny_run), "a cat", "--file", str(tiny_run / "vocab.txt")])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_reconstruct_of_a_split_prints_the_reconstruction_bleu_of_the_report(tiny_run):
    report = json.loads((tiny_run / "report.json").read_text())["reconstruction_bleu"]
    out = json.loads(runner.invoke(app, ["reconstruct", str(tiny_run), "--split", "test", "--samples", "0",
                                         "--json"]).stdout)
    assert out["sentences"] == report["sentences"] == 12
    assert out["mean"]["bleu"] == pytest.approx(report["bleu"]) and out["mean"]["exact"] == report["exact"]


def test_corpus_writes_no_file_without_plot_and_its_help_lists_every_corpus(tmp_path, monkeypatch):
    from textvae.data.corpus import CORPORA

    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, ["corpus", "snli"])
    assert out.exit_code == 0, out.output
    assert list(tmp_path.iterdir()) == [] and "length histogram" not in out.stdout
    out = runner.invoke(app, ["corpus", "snli", "--plot", "l.png"])
    assert (tmp_path / "l.png").is_file() and "length histogram: l.png" in out.stdout
    helptext = runner.invoke(app, ["corpus", "--help"], env={"COLUMNS": "300"}).stdout
    assert all(name in helptext for name in CORPORA), helptext


def test_adversarial_shows_progress_on_stderr_and_out_keeps_every_imputation(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTVAE_PROGRESS_AFTER", "0")
    out = runner.invoke(app, ["adversarial", str(tiny_run), "--split", "train", "--out", str(tmp_path / "adv")])
    assert out.exit_code == 0, out.output
    assert "train the LSTM discriminator" in out.stderr and "ETA" in out.stderr
    result = json.loads((tmp_path / "adv" / "adversarial.json").read_text())
    lines = (tmp_path / "adv" / "imputations.txt").read_text().splitlines()
    assert len(lines) == len(result["imputations"]) == 30 and lines == result["imputations"]


def test_nearest_lists_each_distinct_sentence_once(tiny_run, tmp_path):
    (tmp_path / "c.txt").write_text("the cat sees\nthe cat sees\na dog runs\nthe cat sees\n")
    out = runner.invoke(app, ["nearest", str(tiny_run), "the cat", "--corpus", str(tmp_path / "c.txt"), "--json"])
    r = json.loads(out.stdout)
    assert r["candidates"] == 2 and sorted(m["sentence"] for m in r["matches"]) == ["a dog runs", "the cat sees"]


def test_compare_has_a_corpus_column(tiny_run):
    out = runner.invoke(app, ["compare", str(tiny_run)])
    head = out.stdout.splitlines()[0].split()
    assert "corpus" in head and "corpus" in head[head.index("model"):]


def test_resuming_a_finished_run_prints_its_report_without_evaluating_again(tiny_run):
    ledger_before = sorted(p.name for p in tiny_run.iterdir())
    stamp = (tiny_run / "report.json").stat().st_mtime_ns
    out = runner.invoke(app, ["train", "--resume", str(tiny_run)])
    assert out.exit_code == 0, out.output
    assert "its report.json" in out.stdout and "neg_elbo" in out.stdout
    assert "evaluating the test split" not in out.stderr
    assert (tiny_run / "report.json").stat().st_mtime_ns == stamp and sorted(p.name for p in tiny_run.iterdir()) == \
        ledger_before


def test_an_interrupted_evaluation_names_its_ledger(tiny_run, monkeypatch):
    import textvae.session as sessions

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sessions, "evaluate_split", interrupted)
    out = runner.invoke(app, ["evaluate", str(tiny_run), "--iw-samples", "2"])
    assert out.exit_code == 130
    assert f"kept in {tiny_run / 'eval_test.ledger'}" in out.stderr and "same command" in out.stderr


def test_help_shows_no_type_beside_plain_flags():
    helptext = runner.invoke(app, ["sample", "--help"], env={"COLUMNS": "200"}).stdout
    assert "--json" in helptext and "<bool>" not in helptext and "<int>" in helptext


def test_canvas_says_when_it_reads_empty(tiny_run, tmp_path, monkeypatch):
    import textvae.session as sessions

    def empty_canvas(*args, **kwargs):
        return {"reading": {"words": 0, "unknown": 0, "unknown_words": []}, "empty": True,
                "reads": [{"step": 2, "sentence": ""}, {"step": 4, "sentence": ""}], "attention": [[0.0]]}

    monkeypatch.setattr(sessions, "canvas", empty_canvas)
    monkeypatch.setattr("textvae.plots.plot_canvas", lambda r, out: out)
    out = runner.invoke(app, ["canvas", str(tiny_run), "--out", str(tmp_path / "c.png")])
    assert out.exit_code == 0, out.output
    assert "t =   2  (empty)" in out.stdout and "has not learned to write yet" in out.stdout
    assert "autr/yelp_quick" in out.stdout


def test_the_readme_quotes_the_demo_figures_its_benchmark_measured():
    """The README's KL and reconstruction BLEU of the demo, and its same-corpus baseline, are the figures of
    benchmarks/first_recipe.json (which reads them from the runs' own reports: what the demo prints)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rows = {r["name"]: r for r in json.loads((root / "benchmarks" / "first_recipe.json").read_text())["rows"]}
    demo = rows["Yelp, the README demo (recipes/quick.yaml)"]
    plain = rows["Yelp, the demo's recipe with objective: {} (plain ELBO)"]
    readme = " ".join((root / "README.md").read_text().split())
    assert f"KL of about {round(demo['kl'])} nats" in readme
    assert f"reconstruction BLEU of about {round(demo['bleu'])}**" in readme
    assert f"{round(100 * demo['exact'])}% of the test sentences" in readme
    assert f"{demo['bleu_sentences']:,} test sentences" in readme
    assert f"KL of {plain['kl']:.2f} and a BLEU of {plain['bleu']:.1f}" in readme
    assert re.search(r"\*\*reconstruction BLEU of about \d+\*\*", readme)
    # the figures are the committed runs' own reports (benchmarks/first_recipe_runs): they outlive the runs
    for row in rows.values():
        report = json.loads((root / row["run"] / "report.json").read_text())
        assert report["reconstruction_bleu"]["bleu"] == row["bleu"] and report["kl"] == row["kl"], row["name"]


def test_plots_show_values_without_offsets_whole_epochs_and_an_rnnlm_as_nll(tmp_path, monkeypatch):
    import textvae.plots as plots

    corpus = write_corpus(tmp_path / "corpus")
    raw = tiny_recipe(corpus, model={"type": "lm"}, train={"epochs": 2}, eval={"iw_samples": 0})
    assert runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--out",
                               str(tmp_path / "lm")]).exit_code == 0
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: figures.append(fig) or out)
    plots.plot_run(tmp_path / "lm")
    losses = figures[0].axes[0]
    labels = losses.get_legend_handles_labels()[1]
    assert "nll" in labels and "neg_elbo" not in labels and "kl" not in labels, labels
    assert losses.yaxis.get_major_formatter().get_useOffset() is False
    vae = tiny_recipe(corpus, train={"epochs": 2}, eval={"iw_samples": 0})
    assert runner.invoke(app, ["train", str(write_recipe(tmp_path / "v.yaml", vae)), "--out",
                               str(tmp_path / "vae")]).exit_code == 0
    plots.plot_run(tmp_path / "vae")
    mi_au = next(ax for ax in figures[-1].axes if ax.get_xlabel() == "epoch")
    ticks = [t for t in mi_au.get_xticks() if mi_au.get_xlim()[0] <= t <= mi_au.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
