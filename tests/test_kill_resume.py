"""Random SIGKILLs of a real training process, resumed each time, end in the same run as no kill at all
(``tests/killharness.py``; ``benchmarks/reliability.py`` runs the same with at least 50 kills)."""

from __future__ import annotations

import random

from helpers import tiny_recipe, write_corpus, write_recipe
from killharness import trial, uninterrupted


def test_random_kills_resume_to_the_uninterrupted_run(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n_train=120, n_eval=12)
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, train={"epochs": 3, "checkpoint_every": 4,
                                                                           "log_every": 3}, eval={"iw_samples": 3}))
    span = uninterrupted(recipe, tmp_path / "reference")
    rng = random.Random(2026)
    results = [trial(recipe, tmp_path / "reference", tmp_path / f"trial{i}", kills=2, span=span, rng=rng)
               for i in range(3)]
    assert sum(r["kills"] for r in results) >= 3, results  # the harness did kill
    assert all(r["identical"] for r in results), [r["differences"] for r in results]
