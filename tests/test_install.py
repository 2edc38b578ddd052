"""An installed (not editable) package finds its bundled corpora and recipes from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from helpers import write_corpus

from textvae.config import DataConfig
from textvae.config.bundled import bundled_recipes
from textvae.data.source import corpus_lines

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, textvae.data.corpus as c, textvae.config.bundled as bundled
from importlib import resources
from textvae.config import DataConfig
web = resources.files("textvae.web")
files = c.split_files("ptb")
print(json.dumps({"module": c.__file__, "root": str(c.data_root()),
                  "exists": all(p.is_file() for ps in files.values() for p in ps),
                  "lines": len(c.raw_lines(DataConfig(corpus="yelp"), "valid")),
                  "web": all((web / f).is_file() for f in ("templates/question.html", "static/explorer.js",
                                                           "static/style.css")),
                  "recipes": sorted(bundled.bundled_recipes())}))
"""


def test_installed_wheel_finds_its_corpora_and_recipes_from_another_directory(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheel"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    wheel = next((tmp_path / "wheel").glob("textvae-*.whl"))
    # --ignore-installed: without it pip would uninstall this environment's textvae as an "upgrade"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", "--prefix",
                    str(venv), str(wheel)], check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data" / "ptb").mkdir(parents=True)  # a data/ folder in the working directory must not shadow
    # torch and the other dependencies from this interpreter, without its .pth files (an editable textvae)
    env = {**os.environ, "PYTHONPATH": sysconfig.get_path("purelib")}
    env.pop("TEXTVAE_DATA", None)
    out = subprocess.run([str(venv / "bin" / "python"), "-c", PROBE], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["module"].startswith(str(venv)), got  # the installed copy, not this checkout
    assert got["root"] == str(venv / "share" / "textvae" / "data") and got["exists"], got
    assert got["web"], got  # the web app's templates and static files are package data
    assert got["lines"] == len(corpus_lines(DataConfig(corpus="yelp"), "valid")) > 30000  # what this checkout has
    assert got["recipes"] == sorted(bundled_recipes()) and "quick" in got["recipes"], got  # every recipe ships
    # `textvae train quick` by name, from a folder without recipes (shrunk to a tiny corpus and model by --set)
    tiny = write_corpus(tmp_path / "tiny")
    sets = ["data.corpus=" + str(tiny), "data.vocab_size=0", "model.latent_dim=4", "objective.bow.hidden=8",
            "train.max_steps=3", "train.epochs=1", "train.threads=1", "eval.n_samples=1", "data.eval_batch_size=16",
            "data.batch_size=8",
            *[f"model.{part}.{dim}=8" for part in ("encoder", "decoder") for dim in ("embed_dim", "hidden_dim")]]
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "textvae", "train", "quick",
                          *[x for s in sets for x in ("--set", s)]], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads((elsewhere / "runs" / "quick" / "report.json").read_text())
    assert report["steps"] == 3 and "nll_iw" in report
