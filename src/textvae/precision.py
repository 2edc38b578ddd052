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


def _devices(device: str) -> list[int]:
    return [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []


def bf16_failure(exc: RuntimeError) -> str:
    """The first line of the error a bf16 pass raised (oneDNN on a CPU without AVX-512 has, for one, no bf16
    LSTM: "could not create a primitive descriptor for the LSTM forward propagation primitive")."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def bf16_lstm_failure(device: str = "cpu") -> str | None:
    """Why an LSTM does not run under bf16 autocast on ``device`` (the first line of the error), or None where
    it runs."""
    try:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            torch.nn.LSTM(8, 8, batch_first=True).to(device)(torch.zeros(2, 3, 8, device=device))
    except RuntimeError as exc:
        return bf16_failure(exc)
    return None


def time_passes(run: Callable[[bool], None], device: str, rounds: int = 3) -> dict:
    """The fastest of ``rounds`` calls of ``run(bf16)`` for each precision, alternated after one warm-up of each
    (seconds). RNG states are restored afterwards, so a run that probes trains exactly as one that does not.
    When the bf16 pass raises a RuntimeError (bf16 does not run on this machine), the timing stops there:
    ``bf16`` is infinite, ``fp32`` the warm-up pass's time and ``bf16_error`` says why."""
    best: dict = {"fp32": float("inf"), "bf16": float("inf")}
    warm_fp32 = float("inf")
    with torch.random.fork_rng(devices=_devices(device)):
        for r in range(rounds + 1):
            for name in ("fp32", "bf16"):
                _sync(device)
                tic = time.perf_counter()
                try:
                    run(name == "bf16")
                except RuntimeError as exc:
                    if name == "fp32":
                        raise
                    return {"fp32": min(best["fp32"], warm_fp32), "bf16": float("inf"),
                            "bf16_error": bf16_failure(exc)}
                _sync(device)
                elapsed = time.perf_counter() - tic
                if r:  # round 0 warms both up
                    best[name] = min(best[name], elapsed)
                elif name == "fp32":
                    warm_fp32 = elapsed
    return best


def check_bf16_runs(run: Callable[[bool], None], device: str, key: str) -> None:
    """For an explicit ``key: true``: one ``run(True)``, RNG states restored; a RuntimeError from it becomes a
    one-line TextVAEError naming ``key`` (bf16 autocast does not run on this machine)."""
    from textvae.errors import TextVAEError

    with torch.random.fork_rng(devices=_devices(device)):
        try:
            run(True)
        except RuntimeError as exc:
            raise TextVAEError(f"{key}: true, but bf16 autocast does not run on this machine ({bf16_failure(exc)}); "
                               f"use {key}: auto (bf16 only where it runs and is faster) or false") from None


def choose_bf16(setting: bool | str, run: Callable[[bool], None], device: str) -> tuple[bool, str]:
    """The precision to train in, and why (one line). ``setting`` True or False is taken as it is; "auto" probes
    ``run(bf16)`` (one forward and backward pass of a training batch) both ways and picks bf16 only when it takes
    under MARGIN of fp32's time."""
    if setting != "auto":
        if setting:
            check_bf16_runs(run, device, "train.bf16")
        return bool(setting), f"bf16 {'on' if setting else 'off'} (train.bf16: {str(setting).lower()})"
    t = time_passes(run, device)
    if "bf16_error" in t:
        return False, f"train.bf16 auto: fp32 (bf16 autocast does not run on this machine: {t['bf16_error']})"
    ratio = t["fp32"] / t["bf16"]
    use = t["bf16"] < MARGIN * t["fp32"]
    return use, (f"train.bf16 auto: {'bf16' if use else 'fp32'} (a training pass took {t['fp32'] * 1e3:.1f} ms in "
                 f"fp32, {t['bf16'] * 1e3:.1f} ms in bf16: bf16 {ratio:.2f}x as fast)")
