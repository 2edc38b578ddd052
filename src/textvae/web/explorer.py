"""The runs the explorer serves: discovered in a folder (any run with best weights), opened on first use and kept
in a small least-recently-used cache, shared by every request (a Session is safe across threads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from textvae import session as sessions
from textvae.analysis.canvas import is_canvas_model
from textvae.data.corpus import LABELS
from textvae.errors import BadValue, TextVAEError
from textvae.run import Run
from textvae.session import Session
from textvae.session.compare import find_runs, run_settings
from textvae.study.store import NotFound


class Explorer:
    """Runs under ``root`` by name (their path relative to it), opened on ``device``; at most ``cache`` kept open."""

    def __init__(self, root: str | Path, device: str = "cpu", cache: int = 4) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise BadValue("runs", "no such folder", self.root)
        self.device, self.size = device, cache
        self._open: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def _paths(self) -> dict[str, Path]:
        try:
            runs = find_runs([str(self.root)])
        except TextVAEError:
            return {}
        return {p.relative_to(self.root).as_posix() if p != self.root else p.name: p
                for p in runs if Run(p).best.is_file()}

    def runs(self) -> list[dict]:
        """Every servable run: name (its path under the folder), recipe (the recipe's name) and its settings (type,
        model, corpus)."""
        out = []
        for name, path in sorted(self._paths().items()):
            settings = run_settings(path)
            out.append({**settings, "recipe": settings.get("name"), "name": name})
        return out

    def session(self, name: str) -> Session:
        """The open run ``name`` (opened now if needed; only one thread opens a run); NotFound for an unknown name."""
        with self._lock:
            if name in self._open:
                self._open.move_to_end(name)
                return self._open[name]
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            with self._lock:
                if name in self._open:
                    return self._open[name]
            try:
                path = self._paths().get(name)
                if path is None:
                    raise NotFound(f"no run {name!r} here")
                s = sessions.open_run(path, self.device)
                with self._lock:
                    self._open[name] = s
                    while len(self._open) > self.size:
                        self._open.popitem(last=False)
            finally:
                with self._lock:  # names asked for come from URLs: keep no lock per unknown name
                    self._loading.pop(name, None)
        return s

    @staticmethod
    def features(s: Session) -> dict:
        """What the explorer offers for a run: latent (reconstruct, interpolate, attribute), canvas (AUTR) and the
        corpus labels an attribute vector can be built from."""
        labelled = s.recipe.data.corpus in LABELS
        labels: list[str] = []
        if labelled:
            from textvae.data.source import corpus_labels

            labels = sorted(set(corpus_labels(s.recipe.data, "test") or []))
        return {"latent": s.model.has_latent, "canvas": s.model.has_latent and is_canvas_model(s.model),
                "labels": labels, "corpus": s.recipe.data.corpus, "decoder": s.recipe.model.decoder.kind,
                "type": s.recipe.model.type}

    # -- what the explorer's routes ask of a run (the app calls these on its model worker) --------------------------
    ACTIONS = ("page", "sample", "reconstruct", "interpolate", "attribute", "impute", "canvas")

    def call(self, action: str, name: str, req) -> dict:
        """One explorer request on run ``name``: ``action`` (one of :data:`ACTIONS`) with its request model
        (``textvae.web.limits``); returns JSON-ready data. This is all the model work the web app does, so that it
        can run in a worker (a thread, or a process of its own: ``textvae.web.workers``)."""
        if action not in self.ACTIONS:
            raise TextVAEError(f"unknown explorer action {action!r}")
        s = self.session(name)
        if action == "page":
            return self.features(s)
        if action == "sample":
            return sessions.sample(s, req.n, req.options(), req.seed, req.stretch)
        if action == "reconstruct":
            return sessions.reconstruct(s, [req.sentence], req.options(), req.samples, req.seed)
        if action == "interpolate":
            return sessions.interpolate(s, req.a, req.b, req.steps, req.options())
        if action == "impute":
            return sessions.impute(s, [req.sentence], marker=req.blank)
        if action == "canvas":
            return sessions.canvas(s, req.sentence, req.seed, width=req.width)
        return sessions.attribute_transfer(s, req.source, req.target, req.apply, req.scale, req.options(),
                                           req.from_label, req.to_label)
