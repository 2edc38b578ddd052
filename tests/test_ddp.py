"""Multi-process training with torchrun and DDP (gloo on CPU): two ranks end where one process with the same
global batch ends, the ranks' batches are disjoint and cover the epoch, only rank 0 writes, and a 2-process run
killed with SIGKILL resumes to exactly the weights of an uninterrupted 2-process run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe

from textvae import distributed as dist
from textvae.data.batching import bucket_order

torch_distributed = pytest.importorskip("torch.distributed")
if not torch_distributed.is_available() or not torch_distributed.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)


def _torchrun(nproc: int, *args: str, wait: bool = True, **kw):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m",
           "textvae.cli", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEXTVAE_PROGRESS": "0"}
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True, **kw)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, **kw)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint.pt", weights_only=False)["model"]


def test_rank_batches_are_disjoint_cover_the_epoch_and_take_equal_steps(monkeypatch):
    lengths = [1 + (i * 7) % 11 for i in range(203)]
    batches = bucket_order(lengths, 4 * 3, True, seed=1, epoch=2)
    shares = []
    for rank in range(3):
        monkeypatch.setattr(dist, "ctx", dist.Context(rank=rank, world=3))
        shares.append(dist.rank_batches(batches))
    assert len({len(s) for s in shares}) == 1 and all(len(b) >= 1 for s in shares for b in s)
    seen = [i for s in shares for b in s for i in b]
    assert len(seen) == len(set(seen)) and set(seen) == set(range(203))  # the last batch has 11 >= 3 sentences


def test_two_ranks_end_where_one_process_with_the_same_global_batch_ends(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=64)
    common = {"model": {"type": "lm"}, "objective": {"word_dropout": {"keep": 1.0}},
              "train": {"epochs": 2, "threads": 1, "checkpoint_every": 1000}, "eval": {"iw_samples": 0}}
    one = write_recipe(tmp_path / "one.yaml", tiny_recipe(corpus, data={"batch_size": 8}, **common))
    two = write_recipe(tmp_path / "two.yaml", tiny_recipe(corpus, data={"batch_size": 4}, **common))
    from typer.testing import CliRunner

    from textvae.cli import app

    result = CliRunner().invoke(app, ["train", str(one), "--out", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output
    out = _torchrun(2, str(two), "--out", str(tmp_path / "two"))
    assert "x 2 ranks (gloo)" in out.stdout
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    # rank 0 alone wrote: one log, one staging folder renamed into place, nothing else beside the runs
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(x)["step"] for x in lines if json.loads(x)["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 16  # 2 epochs of 8 global batches
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "one", "one.yaml", "two", "two.yaml"]


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_weights(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=96)
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, data={"batch_size": 4}, train={
        "epochs": 2, "threads": 1, "checkpoint_every": 3, "log_every": 1}, eval={"iw_samples": 0}))
    _torchrun(2, str(recipe), "--out", str(tmp_path / "whole"))
    proc = _torchrun(2, str(recipe), "--out", str(tmp_path / "cut"), wait=False)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    done = threading.Event()

    def kill_after_step_7() -> None:
        while proc.poll() is None and not done.wait(0.02):
            if metrics.is_file() and any(json.loads(x).get("step", 0) >= 7 for x in metrics.read_text().splitlines()
                                         if x.endswith("}")):
                os.killpg(proc.pid, signal.SIGKILL)
                return

    killer = threading.Thread(target=kill_after_step_7)
    killer.start()
    proc.wait(600)
    done.set()
    killer.join()
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read()
    _torchrun(2, "--resume", str(tmp_path / "cut"))
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
    out = subprocess.run([sys.executable, "-m", "textvae.cli", "train", "--resume", str(tmp_path / "cut")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "written by 2 process(es)" in out.stderr
