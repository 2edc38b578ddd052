"""bf16 where it pays: ``train.bf16: auto`` (and ``eval.bf16: auto``) time the model's own pass in fp32 and under bf16
and keeps bf16 only when it is clearly faster.

Machines differ: a CPU with bf16 instructions (avx512_bf16, AMX) runs bf16 matmuls 2-3x faster than fp32, one
without them 3x slower; GPUs since Ampere gain. A matmul alone does not tell (fused LSTM kernels, softmax and
memory traffic count too), so the probe runs what training runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

MARGIN = 0.9
"""bf16 is chosen only when its pass takes under this fraction of the fp32 one: never slower, even with noise."""


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_passes(run: Callable[[bool], None], device: str, rounds: int = 3) -> dict[str, float]:
    """The fastest of ``rounds`` calls of ``run(bf16)`` for each precision, alternated after one warm-up of each
    (seconds). RNG states are restored afterwards, so a run that probes trains exactly as one that does not."""
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    best = {"fp32": float("inf"), "bf16": float("inf")}
    with torch.random.fork_rng(devices=devices):
        for r in range(rounds + 1):
            for name in ("fp32", "bf16"):
                _sync(device)
                tic = time.perf_counter()
                run(name == "bf16")
                _sync(device)
                if r:  # round 0 warms both up
                    best[name] = min(best[name], time.perf_counter() - tic)
    return best


def choose_bf16(setting: bool | str, run: Callable[[bool], None], device: str) -> tuple[bool, str]:
    """The precision to train in, and why (one line). ``setting`` True or False is taken as it is; "auto" probes
    ``run(bf16)`` (one forward and backward pass of a training batch) both ways and picks bf16 only when it takes
    under MARGIN of fp32's time."""
    if setting != "auto":
        return bool(setting), f"bf16 {'on' if setting else 'off'} (train.bf16: {str(setting).lower()})"
    t = time_passes(run, device)
    ratio = t["fp32"] / t["bf16"]
    use = t["bf16"] < MARGIN * t["fp32"]
    return use, (f"train.bf16 auto: {'bf16' if use else 'fp32'} (a training pass took {t['fp32'] * 1e3:.1f} ms in "
                 f"fp32, {t['bf16'] * 1e3:.1f} ms in bf16: bf16 {ratio:.2f}x as fast)")
