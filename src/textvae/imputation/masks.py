"""Masking schemes: which words of a sentence (reading order) an imputation experiment hides."""

from __future__ import annotations

import random

from textvae.errors import BadValue, listed


def final_words(n: int, fraction: float, rng: random.Random | None = None) -> list[int]:
    """The last round(n x fraction) positions of an n-word sentence, at least one (Bowman et al.: the final 20%)."""
    k = min(n, max(1, round(n * fraction)))
    return list(range(n - k, n))


def random_words(n: int, fraction: float, rng: random.Random | None = None) -> list[int]:
    """round(n x fraction) positions drawn uniformly without replacement, at least one (AUTR: a random 30%)."""
    k = min(n, max(1, round(n * fraction)))
    return sorted((rng or random.Random(0)).sample(range(n), k))


MASKS = {"final20": (final_words, 0.2), "random30": (random_words, 0.3)}
"""Masking scheme name -> (position rule, fraction)."""


def blank_out(ids: list[int], mask: str, rng: random.Random) -> tuple[list[int | None], list[int]]:
    """``ids`` (reading order) with the positions of masking scheme ``mask`` set to None, and those positions."""
    if mask not in MASKS:
        raise BadValue("mask", f"must be {listed(MASKS)}, got '{mask}'")
    rule, fraction = MASKS[mask]
    hidden = rule(len(ids), fraction, rng) if ids else []
    blanked: list[int | None] = list(ids)
    for i in hidden:
        blanked[i] = None
    return blanked, hidden
