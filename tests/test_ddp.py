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
    # the view over one index array gives the shares the plain lists give; the short last batch (5 < 7) is left out
    batches = bucket_order(lengths, 66, True, seed=1, epoch=0)  # 203 = 3 x 66 + 5
    for rank in range(7):
        monkeypatch.setattr(dist, "ctx", dist.Context(rank=rank, world=7))
        view, plain = dist.rank_batches(batches), dist.rank_batches(list(batches))
        assert list(view) == plain and len(view) == len(plain) == 3 and view[-1] == plain[-1]


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


def test_two_ranks_evaluate_a_split_as_one_process_does(tmp_path):
    """Validation and the final test evaluation are shared among ranks (each its share of the batches, every
    batch with its own random streams): the 2-rank figures equal those of one process on the same weights."""
    corpus = write_corpus(tmp_path / "c", n_train=32, n_eval=23)
    raw = tiny_recipe(corpus, data={"batch_size": 4, "eval_batch_size": 4}, train={"epochs": 1},
                      eval={"iw_samples": 7})
    _torchrun(2, str(write_recipe(tmp_path / "r.yaml", raw)), "--out", str(tmp_path / "run"))
    two = json.loads((tmp_path / "run" / "eval_test.json").read_text())
    from typer.testing import CliRunner

    from textvae.cli import app

    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    one = json.loads(result.stdout)
    assert one["sentences"] == two["sentences"] == 23 and one["tokens"] == two["tokens"]
    for k in ("rec", "kl", "neg_elbo", "nll_iw", "mi", "ppl_iw"):
        assert two[k] == pytest.approx(one[k], rel=1e-6), k
    assert one["au"] == two["au"] and one["mu_hist"] == two["mu_hist"] and one["iw_samples"] == 7


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


def _fake_launch(monkeypatch, cuda_devices: int, nccl: bool) -> dict:
    """torchrun's environment for rank 1 of 2 and a machine with ``cuda_devices`` GPUs, the process group recorded
    instead of joined."""
    joined: dict = {}
    for k, v in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": "29999"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_devices > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda_devices)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: joined.setdefault("set_device", i))
    monkeypatch.setattr(torch_distributed, "is_nccl_available", lambda: nccl)
    monkeypatch.setattr(torch_distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(torch_distributed, "init_process_group",
                        lambda backend, rank, world_size: joined.update(backend=backend, rank=rank, world=world_size))
    monkeypatch.setattr(dist, "ctx", dist.Context())
    return joined


def test_a_cuda_machine_gets_nccl_and_one_gpu_per_local_rank(monkeypatch):
    from textvae.pipeline import resolve_device

    joined = _fake_launch(monkeypatch, cuda_devices=2, nccl=True)
    device = dist.setup(resolve_device("auto"))  # what training does: auto finds CUDA, then the rank's GPU
    assert device == "cuda:1" and joined == {"set_device": 1, "backend": "nccl", "rank": 1, "world": 2}
    assert dist.ctx.backend == "nccl" and dist.comm_device(device) == "cuda:1"


def test_a_cpu_machine_gets_gloo(monkeypatch):
    joined = _fake_launch(monkeypatch, cuda_devices=0, nccl=True)
    assert dist.setup("cpu") == "cpu" and joined["backend"] == "gloo" and "set_device" not in joined
    assert dist.comm_device("cpu") == "cpu"


def test_more_ranks_than_gpus_is_a_one_line_error(monkeypatch):
    from textvae.errors import TextVAEError

    _fake_launch(monkeypatch, cuda_devices=1, nccl=True)
    with pytest.raises(TextVAEError, match="LOCAL_RANK=1: this machine has 1 CUDA device"):
        dist.setup("cuda")


@pytest.mark.skipif(torch.cuda.device_count() < 2 or not torch_distributed.is_nccl_available(),
                    reason="needs 2 CUDA devices and NCCL")
def test_two_gpus_train_with_nccl(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=64)
    raw = tiny_recipe(corpus, train={"epochs": 1, "device": "cuda"}, eval={"iw_samples": 3})
    out = _torchrun(2, str(write_recipe(tmp_path / "r.yaml", raw)), "--out", str(tmp_path / "run"))
    assert "x 2 ranks (nccl)" in out.stdout and (tmp_path / "run" / "report.json").is_file()
