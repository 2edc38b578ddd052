"""Kill a training run with SIGKILL at random moments, resume it, and compare it with an uninterrupted run.

Used by ``tests/test_kill_resume.py`` (a few kills, in CI) and ``benchmarks/reliability.py`` (at least 50).
A trial runs ``textvae train RECIPE --out RUN`` as a real process; after each random delay the process is
killed with SIGKILL, then the run goes on (``--resume RUN`` once the run folder holds a checkpoint, else the
first command again), until a process ends by itself. The finished run must equal the uninterrupted one:
bitwise-identical weights (best and last), the same report and evaluation, and the same metrics.jsonl (timing
fields aside).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

TIMING = {"tokens_per_s", "seconds", "time", "train_seconds", "run", "flops_per_token", "gflops", "peak_gflops",
          "utilisation"}


def _command(recipe: Path, run: Path) -> list[str]:
    if (run / "checkpoint.pt").is_file():
        return [sys.executable, "-m", "textvae.cli", "train", "--resume", str(run)]
    return [sys.executable, "-m", "textvae.cli", "train", str(recipe), "--out", str(run)]


def _moment(run: Path) -> str:
    """Where a kill landed, read off what the run folder holds afterwards."""
    if not (run / "checkpoint.pt").is_file():
        return "start-up (no run folder yet)"
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    if state["finished"]:
        return "final evaluation" if not (run / "report.json").is_file() else "process exit (report written)"
    return "training" if state["step"] else "first steps (checkpoint of step 0)"


def uninterrupted(recipe: Path, run: Path, timeout: float = 600) -> float:
    """Train the run without kills; returns its wall time in seconds."""
    tic = time.perf_counter()
    subprocess.run(_command(recipe, run), check=True, capture_output=True, timeout=timeout)
    return time.perf_counter() - tic


def killed_and_resumed(recipe: Path, run: Path, delays: list[float], timeout: float = 600) -> list[str]:
    """Train the run, killing each attempt after the next of ``delays`` seconds; returns where each kill landed
    (fewer kills than delays when the run ends first)."""
    moments = []
    for delay in [*delays, None]:
        proc = subprocess.Popen(_command(recipe, run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=timeout if delay is None else delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            moments.append(_moment(run))
            continue
        if proc.returncode != 0:
            raise AssertionError(f"attempt after {len(moments)} kills failed: {err.decode()[-2000:]}")
        return moments
    raise AssertionError("unreachable")


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two finished runs (timing aside); empty when they are the same run."""
    out = []
    for name in ("best.safetensors",):
        x, y = load_file(a / name), load_file(b / name)
        if x.keys() != y.keys() or not all(torch.equal(x[k], y[k]) for k in x):
            out.append(name)
    x = torch.load(a / "checkpoint.pt", map_location="cpu", weights_only=False)
    y = torch.load(b / "checkpoint.pt", map_location="cpu", weights_only=False)
    if x["model"].keys() != y["model"].keys() or not all(torch.equal(x["model"][k], y["model"][k]) for k in x["model"]):
        out.append("checkpoint.pt weights")
    if {k: v for k, v in x.items() if k in ("step", "epoch", "best", "bad_epochs", "finished", "train_tokens")} != {
            k: v for k, v in y.items() if k in ("step", "epoch", "best", "bad_epochs", "finished", "train_tokens")}:
        out.append("checkpoint.pt state")
    for name in ("report.json", "eval_test.json"):
        rx, ry = (json.loads((r / name).read_text()) for r in (a, b))
        if {k: v for k, v in rx.items() if k not in TIMING} != {k: v for k, v in ry.items() if k not in TIMING}:
            out.append(name)
    logs = [[{k: v for k, v in json.loads(ln).items() if k not in TIMING}
             for ln in (r / "metrics.jsonl").read_text().splitlines()] for r in (a, b)]
    if logs[0] != logs[1]:
        out.append("metrics.jsonl")
    leftovers = [p.name for p in b.iterdir() if p.name.startswith(".")] + [
        p.name for p in b.parent.iterdir() if p.name.startswith(f".{b.name}.starting-")]
    if leftovers:
        out.append(f"left behind: {leftovers}")
    return out


def trial(recipe: Path, reference: Path, run: Path, kills: int, span: float, rng: random.Random) -> dict:
    """One trial: up to ``kills`` SIGKILLs at moments uniform in [0, span) seconds of each attempt."""
    moments = killed_and_resumed(recipe, run, [rng.uniform(0, span) for _ in range(kills)])
    diff = differences(reference, run)
    return {"kills": len(moments), "moments": moments, "identical": not diff, "differences": diff}
