"""KL weight schedules: the weight w(step) multiplying the KL term."""

from __future__ import annotations

import math

from textvae.config import KLWeightConfig


def kl_weight(cfg: KLWeightConfig, step: int) -> float:
    """w(step) for step = number of optimiser steps already taken (0 at the first batch), the schedule shifted by
    ``delay`` steps (before them the weight is the schedule's step-0 value).

    constant: ``value``. linear: ``start`` + (value - start) * min(1, step / steps).
    sigmoid (Bowman et al. 2016, Fig. 2): value / (1 + exp(-rate * (step - steps / 2))).
    cyclical (Fu et al. 2019): ``steps`` split into ``cycles`` cycles of length C = steps / cycles; within a
    cycle, tau = (step mod C) / C, the weight is value * tau / ratio while tau < ratio, then value; after
    ``steps`` steps it stays at value.
    """
    if cfg.delay:
        step = max(0, step - cfg.delay)
    if cfg.schedule == "constant":
        return cfg.value
    if cfg.schedule == "linear":
        frac = 1.0 if cfg.steps <= 0 else min(1.0, step / cfg.steps)
        return cfg.start + (cfg.value - cfg.start) * frac
    if cfg.schedule == "sigmoid":
        x = -cfg.rate * (step - cfg.steps / 2)
        return cfg.value / (1.0 + math.exp(x)) if x < 700 else 0.0
    if cfg.schedule == "cyclical":
        if step >= cfg.steps:
            return cfg.value
        period = cfg.steps / cfg.cycles
        tau = (step % period) / period
        return cfg.value * min(1.0, tau / cfg.ratio)
    raise ValueError(f"unknown KL schedule {cfg.schedule!r}")
