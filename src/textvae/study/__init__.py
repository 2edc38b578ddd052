"""Blind human evaluation (mu-Forcing 5.5, AutoGen 3.2-3.3): studies built from generated files, raters who each
answer at most N questions with the systems hidden and the sides randomised, every answer stored at once in
SQLite, and results with a two-sided binomial test. The web app and ``textvae study`` call these functions::

    from textvae.study import StudyStore, build_items, results
    db = StudyStore("eval.sqlite")
    sid = db.create_study("groups", "mu-forcing vs vrae", build_items("groups", {"mu": a, "vrae": b}), questions=50)
"""

from textvae.study.items import KINDS, build_items, read_system_files
from textvae.study.results import results, results_csv, results_plot
from textvae.study.store import Question, StudyStore

__all__ = ["KINDS", "Question", "StudyStore", "build_items", "read_system_files", "results", "results_csv",
           "results_plot"]
