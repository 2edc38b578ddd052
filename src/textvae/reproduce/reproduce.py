"""``textvae reproduce``: train what a paper's claims need (or reuse the committed artifacts whose recipe hash
still matches), run the analyses that need weights, judge every claim, write the reports."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from textvae.atomic import write_json_atomic
from textvae.errors import BadValue, TextVAEError, listed
from textvae.reproduce.artifacts import Analysis, Artifacts
from textvae.reproduce.papers import PAPER_MODULES, SCALES, Paper, paper
from textvae.reproduce.report import write_paper_report, write_summary
from textvae.reproduce.runs import RunSpec, current, finished, publish_run, read_meta, run_key, train_spec


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _analysis_key(a: Analysis, keys: dict[str, str]) -> str:
    text = json.dumps([a.name, a.version, [keys[r] for r in a.runs]])
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class Plan:
    """The state of one paper at one scale: each run's key, its work folder and artifacts, and what is stale."""

    def __init__(self, p: Paper, scale: str, runs: Path, reports: Path, fresh: bool, sets: tuple[str, ...] = ()):
        self.paper, self.scale, self.fresh = p, scale, fresh
        self.specs: dict[str, RunSpec] = {s.name: replace(s, sets=(*s.sets, *sets)) for s in p.runs(scale)}
        self.keys = {name: run_key(s) for name, s in self.specs.items()}
        self.root = reports / "runs" / scale / p.name
        self.work = {name: runs / scale / p.name / f"{name}-{self.keys[name]}" for name in self.specs}
        self.analyses = p.analyses(scale)

    def artifacts_current(self, name: str) -> bool:
        meta = read_meta(self.root / name)
        return not self.fresh and meta is not None and meta.get("key") == self.keys[name]

    def analysis_current(self, a: Analysis) -> bool:
        path = self.root / "analyses" / f"{a.name}.json"
        if self.fresh or not path.is_file():
            return False
        return json.loads(path.read_text()).get("key") == _analysis_key(a, self.keys)

    def to_train(self) -> list[str]:
        """Runs to train: those without current artifacts, and those whose weights a stale analysis needs."""
        need = {n for n in self.specs if not self.artifacts_current(n)}
        for a in self.analyses:
            if not self.analysis_current(a):
                need |= {n for n in a.runs if not finished(self.work[n])}
        return [n for n in self.specs if n in need]


def _train_all(plans: list[Plan], parallel: int, device: str | None) -> dict[str, str]:
    """Train every plan's stale runs, ``parallel`` at a time. A run that fails does not stop the others; returns
    the failures, "PAPER/RUN" -> the error."""
    jobs = [(plan, name) for plan in plans for name in plan.to_train()]
    failed: dict[str, str] = {}
    if not jobs:
        return failed
    threads = max(1, (os.cpu_count() or 1) // parallel)
    _say(f"reproduce: {len(jobs)} runs to train, {parallel} at a time, {threads} thread(s) each; "
         f"each run's progress in its folder's .log")
    tic, done = time.perf_counter(), 0
    with ThreadPoolExecutor(parallel) as pool:
        futures = {pool.submit(train_spec, plan.specs[name], plan.keys[name], plan.work[name],
                               plan.root / name, plan.scale, device, threads): (plan, name)
                   for plan, name in jobs}
        for f in as_completed(futures):
            plan, name = futures[f]
            done += 1
            try:
                f.result()
                what = "trained"
            except TextVAEError as exc:
                failed[f"{plan.paper.name}/{name}"] = str(exc)
                what = f"FAILED ({exc})"
            spent = time.perf_counter() - tic
            eta = spent / done * (len(jobs) - done)
            _say(f"reproduce: [{done}/{len(jobs)}] {plan.paper.name}/{name} {what}; {spent / 60:.1f} min so far, "
                 f"about {eta / 60:.1f} min to go")
    return failed


def _analyse(plan: Plan, device: str | None) -> None:
    for a in plan.analyses:
        if plan.analysis_current(a):
            continue
        for n in a.runs:  # the analysis reads these weights: the artifacts must be theirs
            if not current(plan.work[n], plan.root / n):
                publish_run(plan.specs[n], plan.keys[n], plan.work[n], plan.root / n, plan.scale)
        _say(f"reproduce: {plan.paper.name}: analysis {a.name} ({', '.join(a.runs)})")
        tic = time.perf_counter()
        result = a.fn({n: plan.work[n] for n in a.runs}, device or "auto")
        write_json_atomic(plan.root / "analyses" / f"{a.name}.json",
                          {"key": _analysis_key(a, plan.keys), "runs": {n: plan.keys[n] for n in a.runs},
                           "seconds": time.perf_counter() - tic, "result": result})


def papers_of(name: str) -> list[str]:
    """``all`` or one paper's name -> the papers' names (a wrong name: a TextVAEError listing the right ones)."""
    if name == "all":
        return list(PAPER_MODULES)
    paper(name)
    return [name]


def reproduce(name: str = "all", scale: str = "small", runs: str | Path = "runs/reproduce",
              reports: str | Path = "reports", fresh: bool = False, parallel: int = 1, device: str | None = None,
              regenerate: bool = False, sets: tuple[str, ...] | list[str] = ()) -> dict:
    """Reproduce one paper (or ``all``) at ``scale``: train (or resume) every run whose committed artifacts are
    missing or stale (all of them with ``fresh``), ``parallel`` at a time; run the stale analyses; judge the
    claims from the artifacts; write REPORTS/PAPER.md, .json (and .png) and REPORTS/summary.json. With
    ``regenerate``, nothing is trained: the reports come from the committed artifacts alone (a missing one is an
    error). ``sets`` (``section.field=value``) are added to every run's overrides, after the scale's (a quick
    look: ``train.max_steps=50``); they make other runs, whose artifacts and reports go to
    REPORTS/custom-HASH/ (HASH of the overrides), never over the committed ones. A run that fails does not
    stop the others; its paper gets no report and, at the end, a TextVAEError names it. Returns the summary:
    {scale, claims [{paper, claim, verdict, figures, scale, why}], counts, measured}."""
    if scale not in SCALES:
        raise BadValue("scale", f"must be {listed(SCALES)}, got {scale!r}")
    if parallel < 1:
        raise BadValue("parallel", f"must be at least 1, got {parallel}")
    if fresh and regenerate:
        raise BadValue("fresh/regenerate", "give one of them (fresh trains every run, regenerate none)")
    return reproduce_papers([paper(n) for n in papers_of(name)], scale, runs, reports, fresh, parallel, device,
                            regenerate, sets)


def reproduce_papers(papers: list[Paper], scale: str, runs: str | Path, reports: str | Path, fresh: bool = False,
                     parallel: int = 1, device: str | None = None, regenerate: bool = False,
                     sets: tuple[str, ...] | list[str] = ()) -> dict:
    """:func:`reproduce` for ``papers`` given as objects (a paper of one's own, or a test's)."""
    runs, reports = Path(runs), Path(reports)
    if sets:  # other runs: their artifacts and reports beside the committed ones, never over them
        reports = reports / ("custom-" + hashlib.sha1(json.dumps(list(sets)).encode()).hexdigest()[:8])
    plans = [Plan(p, scale, runs, reports, fresh, tuple(sets)) for p in papers]
    failed = {} if regenerate else _train_all(plans, parallel, device)
    results = {}
    for plan in plans:
        if any(k.startswith(plan.paper.name + "/") for k in failed):
            continue
        if not regenerate:
            _analyse(plan, device)
        results[plan.paper.name] = write_paper_report(plan.paper, Artifacts(plan.root, scale), reports,
                                                      plan.specs)
    summary = write_summary(reports, scale, results)
    if failed:
        raise TextVAEError(f"{len(failed)} run(s) failed, their papers' reports not written: "
                           + "; ".join(failed.values()))
    return summary
