"""The FLOP count the training log reports: fused LSTM kernels are counted, not skipped."""

from __future__ import annotations

import torch

from textvae.training.flops import count_flops, matmul_peak


def _lstm_step(lstm: torch.nn.LSTM, x: torch.Tensor):
    def step():
        out, _ = lstm(x)
        out.sum().backward()
        return out

    return step


def test_lstm_counts_its_matmuls_forward_and_backward():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(16, 32, num_layers=2, batch_first=True)
    x = torch.randn(4, 7, 16, requires_grad=True)
    out, flops = count_flops(_lstm_step(lstm, x))
    tokens, hidden = 4 * 7, 32
    forward = 2 * tokens * 4 * hidden * ((16 + hidden) + (hidden + hidden))
    assert flops == 3 * forward  # backward: gradients of inputs and of weights, each as much as the forward
    assert out.shape == (4, 7, 32)
    with torch.backends.mkldnn.flags(enabled=False):  # nn.LSTM decomposed into counted matmuls
        _, decomposed = count_flops(_lstm_step(lstm, x))
    # the decomposed path skips the gradient through the all-zero initial state: a little less, never more
    assert 0.9 * flops <= decomposed <= flops


def test_counting_changes_no_number():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(8, 8, batch_first=True)
    x = torch.randn(2, 5, 8)
    plain = _lstm_step(lstm, x)()
    grads = [p.grad.clone() for p in lstm.parameters()]
    lstm.zero_grad()
    counted, _ = count_flops(_lstm_step(lstm, x))
    assert torch.equal(plain, counted)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, lstm.parameters(), strict=True))


def test_peak_is_a_positive_rate():
    assert matmul_peak("cpu", n=64, reps=2) > 0
