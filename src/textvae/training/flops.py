"""Model FLOPs per training token and the machine's peak, for the utilisation the training log reports."""

from __future__ import annotations

import time

import torch


def _rnn_matmul_flops(input_shape, weight_shapes) -> int:
    """The matmul FLOPs of a fused RNN kernel: every 2-D weight (W_ih, W_hh of each layer and direction) meets
    every token of ``input_shape`` (time x batch x features, or packed tokens x features) once."""
    tokens = 1
    for d in input_shape[:-1]:
        tokens *= d
    return sum(2 * tokens * w[0] * w[1] for w in weight_shapes if len(w) == 2)


def _fused_rnn_formulas() -> dict:
    """Flop formulas for the fused LSTM kernels that torch.utils.flop_counter has none for (oneDNN on CPU, cuDNN
    on CUDA); without them nn.LSTM would count as zero. Backward = 2 x forward (gradients of the inputs and of the
    weights). Gate element-wise work is not counted, as for every other op."""
    aten = torch.ops.aten

    def mkldnn(input, w0, w1, *args, out_shape=None, **kwargs) -> int:
        return _rnn_matmul_flops(input, [w0, w1])

    def mkldnn_backward(input, w1, w2, *args, out_shape=None, **kwargs) -> int:
        return 2 * _rnn_matmul_flops(input, [w1, w2])

    def cudnn(input, weights, *args, out_shape=None, **kwargs) -> int:
        return _rnn_matmul_flops(input, weights)

    def cudnn_backward(input, weights, *args, out_shape=None, **kwargs) -> int:
        return 2 * _rnn_matmul_flops(input, weights)

    return {aten.mkldnn_rnn_layer: mkldnn, aten.mkldnn_rnn_layer_backward: mkldnn_backward,
            aten._cudnn_rnn: cudnn, aten._cudnn_rnn_backward: cudnn_backward}


def count_flops(fn) -> tuple[object, float]:
    """Run ``fn()`` under torch.utils.flop_counter; returns its result and the FLOPs it executed (forward and
    backward, padding included; fused LSTM kernels counted by their matmuls). The numbers computed are the same
    as without the counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_fused_rnn_formulas()) as counter:
        out = fn()
    return out, float(counter.get_total_flops())


def matmul_peak(device: str, dtype: torch.dtype = torch.float32, n: int = 1024, reps: int = 8) -> float:
    """FLOP/s of the fastest of ``reps`` square matmuls of size ``n`` on ``device`` in ``dtype``: the peak that
    utilisation is measured against, measured in the same process (no RNG is used)."""
    a = torch.ones(n, n, device=device, dtype=dtype)
    b = torch.full((n, n), 0.5, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(reps + 2):
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        tic = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - tic)
    return 2 * n**3 / best


class FlopMeter:
    """Model FLOPs per target token, counted on the first optimiser step a process takes (the same numbers
    computed as without counting), and the peak (FLOP/s) measured when training starts."""

    def __init__(self) -> None:
        self.per_token: float | None = None
        self.peak: float | None = None

    def measure_peak(self, device: str, bf16: bool) -> None:
        self.peak = matmul_peak(device, torch.bfloat16 if bf16 else torch.float32)

    def step(self, run_step, tokens: int):
        """``run_step()``'s result; the first call counts its FLOPs (per token of ``tokens``)."""
        if self.per_token is not None:
            return run_step()
        out, flops = count_flops(run_step)
        self.per_token = flops / max(tokens, 1)
        return out
