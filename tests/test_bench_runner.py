"""benchmarks/runner.py (over textvae.reproduce.runs): the one way to train a run to its end across interruptions."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import runner  # noqa: E402


@pytest.fixture
def calls(monkeypatch):
    from textvae.reproduce import runs

    seen = []
    monkeypatch.setattr(runs, "cli", lambda *args, **kw: seen.append(list(args)) or "")
    return seen


def test_a_new_run_starts_from_the_recipe_with_its_overrides(tmp_path, calls):
    run = tmp_path / "r"
    cmd = runner.train_or_resume(run, "recipes/quick.yaml", ["train.epochs=1", "model.latent_dim=4"],
                                 ["--iw-samples", "0"])
    assert calls == [cmd] == [["train", "recipes/quick.yaml", "--out", str(run), "--iw-samples", "0",
                               "--set", "train.epochs=1", "--set", "model.latent_dim=4"]]


def test_a_run_with_a_checkpoint_resumes_without_the_overrides(tmp_path, calls):
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    cmd = runner.train_or_resume(tmp_path, "recipes/quick.yaml", ["train.epochs=1"], ["--iw-samples", "0"])
    assert calls == [["train", "--resume", str(tmp_path), "--iw-samples", "0"]]
    assert cmd == runner.train_args(tmp_path, "recipes/quick.yaml", ["train.epochs=1"], ["--iw-samples", "0"])


def test_a_finished_run_is_left_alone(tmp_path, calls):
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    (tmp_path / "report.json").write_text("{}")
    runner.train_or_resume(tmp_path, "recipes/quick.yaml")
    assert calls == []


def test_a_failing_command_raises_and_shows_its_error(tmp_path, capsys):
    with pytest.raises(subprocess.CalledProcessError):
        runner.cli("train", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "run"))
    announced, *shown = capsys.readouterr().err.splitlines()
    assert announced.startswith("+ textvae train ")
    assert shown and "missing.yaml" in shown[-1]  # the command's own error line, not only the announcement
