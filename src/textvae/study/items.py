"""The questions of a study, built from the sentences each system generated. Three kinds:

- ``groups`` (mu-Forcing Fig. 7): two groups of ``group_size`` sentences from two systems side by side, "which
  group is more likely written by people?", answers left, right or "cannot tell";
- ``reconstruction`` (AutoGen 3.2): an input sentence and two systems' reconstructions of it, "which is the better
  reconstruction?", left, right or "cannot tell";
- ``sense`` (AutoGen 3.3): one sentence of one system, "does this sentence make sense?", yes or no.

An item is a JSON-ready dict: ``systems`` (the names, hidden from raters), ``sentences`` (one entry per system:
a list of sentences for groups, a sentence otherwise) and, for reconstruction, ``input``."""

from __future__ import annotations

import itertools
from pathlib import Path

from textvae.errors import BadValue, TextVAEError, listed

KINDS = ("groups", "reconstruction", "sense")
"""Study kinds."""

QUESTION = {"groups": "Which group of sentences is more likely written by people?",
            "reconstruction": "Which is the better reconstruction of the input sentence?",
            "sense": "Does this sentence make sense?"}
CHOICES = {"groups": ("left", "right", "tie"), "reconstruction": ("left", "right", "tie"), "sense": ("yes", "no")}
"""The answers a rater may give to each kind (``tie`` is "cannot tell")."""

MAX_SENTENCE_CHARS = 1000


def read_system_files(specs: list[str]) -> dict[str, list[str]]:
    """``NAME=FILE`` specs -> {name: the file's non-empty lines}: one generated sentence per line."""
    systems: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep or not name.strip() or not file:
            raise BadValue("system", "must be NAME=FILE", repr(spec))
        if name in systems:
            raise BadValue("system", f"the system name {name!r} is given twice")
        systems[name.strip()] = read_lines(Path(file))
    return systems


def read_lines(path: Path) -> list[str]:
    """A file's lines, stripped, empty ones dropped; a one-line error for a missing, unreadable or empty file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TextVAEError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TextVAEError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    if not lines:
        raise TextVAEError(f"{path}: has no sentences")
    for n, line in enumerate(lines, 1):
        if len(line) > MAX_SENTENCE_CHARS:
            raise TextVAEError(f"{path}:{n}: a sentence of {len(line)} characters; at most {MAX_SENTENCE_CHARS}")
    return lines


def build_items(kind: str, systems: dict[str, list[str]], inputs: list[str] | None = None,
                group_size: int = 5) -> list[dict]:
    """The items of a study of ``kind`` from each system's sentences.

    groups: every pair of systems, one item per ``group_size`` consecutive sentences both systems have;
    reconstruction: line i of every system reconstructs ``inputs[i]`` (files line-aligned), one item per input and
    pair; sense: one item per sentence of every system."""
    if kind not in KINDS:
        raise BadValue("kind", f"must be {listed(KINDS)}, got {kind!r}")
    need = 1 if kind == "sense" else 2
    if len(systems) < need:
        raise BadValue("system", f"a {kind} study needs at least {need} system(s), got {len(systems)}")
    if (inputs is not None) != (kind == "reconstruction"):
        raise BadValue("inputs", "give the input sentences for a reconstruction study, and only for one")
    if kind == "sense":
        return [{"systems": [name], "sentences": [x]} for name, lines in systems.items() for x in lines]
    pairs = list(itertools.combinations(systems, 2))
    if kind == "reconstruction":
        for name, lines in systems.items():
            if len(lines) != len(inputs):
                raise TextVAEError(f"system {name!r}: {len(lines)} reconstructions for {len(inputs)} inputs; the files "
                                   "must be line-aligned with --inputs")
        return [{"systems": [a, b], "input": x, "sentences": [systems[a][i], systems[b][i]]}
                for i, x in enumerate(inputs) for a, b in pairs]
    if group_size < 1:
        raise BadValue("group_size", f"must be >= 1, got {group_size}")
    items = []
    for a, b in pairs:
        n = min(len(systems[a]), len(systems[b])) // group_size
        if n == 0:
            raise BadValue("group_size", f"systems {a!r} and {b!r} have fewer sentences than that", group_size)
        items += [{"systems": [a, b], "sentences": [systems[a][i * group_size:(i + 1) * group_size],
                                                    systems[b][i * group_size:(i + 1) * group_size]]}
                  for i in range(n)]
    return items
