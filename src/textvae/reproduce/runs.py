"""The runs behind a reproduction: each a bundled recipe with the overrides of a scale, trained through the
command line in its own process, keyed by the hash of the recipe it resolves to, and kept in two places:

- the *work folder* ``RUNS/SCALE/PAPER/NAME-KEY`` (``--runs``, default ``runs/reproduce``): the whole run,
  weights and checkpoints included; an interrupted run resumes there (``train --resume``);
- the *artifacts* ``REPORTS/runs/SCALE/PAPER/NAME`` (committed to git): the run's ``config.yaml``,
  ``metrics.jsonl`` and ``report.json`` and a ``run.json`` (key, recipe, overrides, device, seconds). No
  weights: a report regenerates from these alone, and an artifact whose key still matches is not trained again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from textvae.atomic import write_json_atomic
from textvae.errors import TextVAEError

ARTIFACTS = ("config.yaml", "metrics.jsonl", "report.json")
"""What a run keeps in git: enough to regenerate every report, no weights."""


@dataclass(frozen=True)
class RunSpec:
    """One training run of a reproduction: ``recipe`` (a bundled recipe name, e.g. ``bowman2016/ptb_vae``)
    with the overrides ``sets`` (``section.field=value``) of the scale it belongs to."""

    name: str
    recipe: str
    sets: tuple[str, ...] = ()


def run_key(spec: RunSpec) -> str:
    """10 hex digits of the SHA-1 of the recipe ``spec`` resolves to (its YAML as saved beside a checkpoint),
    with the settings that do not change what is learned (threads, device) left out: a change of the recipe
    file or of an override is a new run; a rerun on another machine is the same one."""
    from textvae.config import load_recipe
    from textvae.config.bundled import find_recipe
    from textvae.config.loader import recipe_to_yaml

    recipe = load_recipe(find_recipe(spec.recipe), list(spec.sets))
    recipe = replace(recipe, train=replace(recipe.train, threads=0, device="auto"))
    return hashlib.sha1(recipe_to_yaml(recipe).encode()).hexdigest()[:10]


def cli(*args: str, log: Path | None = None, progress: bool = False, cwd: Path | None = None) -> str:
    """Run ``textvae ARGS`` (``python -m textvae.cli``) in a process of its own, announced on stderr; returns its
    stdout. Its stderr (progress, ETA) goes to ``log`` when given (appended), passes through with ``progress``,
    else is kept and its last 20 lines are printed if the command fails. A failure raises
    ``subprocess.CalledProcessError``."""
    print("+ textvae " + " ".join(args), file=sys.stderr, flush=True)
    with open(log, "a") if log else contextlib.nullcontext() as sink:
        err = sink if log else (None if progress else subprocess.PIPE)
        done = subprocess.run([sys.executable, "-m", "textvae.cli", *args], cwd=cwd, text=True,
                              stdout=subprocess.PIPE, stderr=err)
    if done.returncode and err is subprocess.PIPE:
        sys.stderr.write("".join((done.stderr or "").splitlines(keepends=True)[-20:]))
    done.check_returncode()
    return done.stdout


def train_args(run: Path, recipe: str | Path, sets: Sequence[str] = (), extra: Sequence[str] = ()) -> list[str]:
    """The arguments that start ``recipe`` in ``run``: ``train RECIPE --out RUN EXTRA --set S ...``."""
    return ["train", str(recipe), "--out", str(run), *extra, *[x for s in sets for x in ("--set", s)]]


def train_or_resume(run: Path, recipe: str | Path, sets: Sequence[str] = (), extra: Sequence[str] = (),
                    log: Path | None = None, progress: bool = False, cwd: Path | None = None) -> list[str]:
    """Train ``recipe`` in the folder ``run`` to its end: nothing when ``run/report.json`` is there, else
    ``train --resume RUN EXTRA`` when it has a checkpoint (the run keeps the recipe saved in it, so ``sets`` do
    not apply), else the command of :func:`train_args`. Returns that command's arguments (what the run started
    as). ``log``, ``progress``, ``cwd``: as :func:`cli`."""
    start = train_args(run, recipe, sets, extra)
    if not (run / "report.json").is_file():
        resume = (run / "checkpoint.pt").is_file()
        cli(*(["train", "--resume", str(run), *extra] if resume else start), log=log, progress=progress, cwd=cwd)
    return start


def finished(work: Path) -> bool:
    """Whether a work folder holds a finished run with its weights."""
    return (work / "report.json").is_file() and (work / "best.safetensors").is_file()


def read_meta(artifacts: Path) -> dict | None:
    """The ``run.json`` of a run's artifacts, or None when there are none (or they are incomplete)."""
    meta = artifacts / "run.json"
    if not meta.is_file() or not all((artifacts / f).is_file() for f in ARTIFACTS):
        return None
    return json.loads(meta.read_text())


def publish(work: Path, artifacts: Path, meta: dict) -> None:
    """Copy a finished run's small artifacts (and ``meta`` as run.json) to ``artifacts``, replacing what was
    there in one rename: a reader never sees half of them."""
    artifacts.parent.mkdir(parents=True, exist_ok=True)
    tmp = artifacts.with_name(f".{artifacts.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for f in ARTIFACTS:
        shutil.copy2(work / f, tmp / f)
    write_json_atomic(tmp / "run.json", meta)
    old = artifacts.with_name(f".{artifacts.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if artifacts.exists():
        artifacts.rename(old)
    tmp.rename(artifacts)
    shutil.rmtree(old, ignore_errors=True)


def publish_run(spec: RunSpec, key: str, work: Path, artifacts: Path, scale: str) -> dict:
    """Publish the finished run in ``work`` as ``spec``'s artifacts; returns their run.json (the device and
    threads it trained with, read from the recipe it saved)."""
    import yaml

    report = json.loads((work / "report.json").read_text())
    train = yaml.safe_load((work / "config.yaml").read_text()).get("train", {})
    meta = {"name": spec.name, "key": key, "recipe": spec.recipe, "sets": list(spec.sets), "scale": scale,
            "device": train.get("device", "auto"), "threads": train.get("threads", 0),
            "train_seconds": report.get("train_seconds")}
    publish(work, artifacts, meta)
    return meta


def current(work: Path, artifacts: Path) -> bool:
    """Whether the artifacts are those of the finished run in ``work`` (the same report, byte for byte)."""
    return (artifacts / "report.json").is_file() and \
        (artifacts / "report.json").read_bytes() == (work / "report.json").read_bytes()


def train_spec(spec: RunSpec, key: str, work: Path, artifacts: Path, scale: str, device: str | None,
               threads: int) -> dict:
    """Train (or resume) ``spec`` in ``work`` and publish its artifacts; returns their run.json. The run's
    progress goes to ``work``.log beside it. A failed run raises a TextVAEError naming that log."""
    extra = ["--device", device] if device else []
    sets = [*spec.sets, f"train.threads={threads}"]
    log = work.with_name(work.name + ".log")
    work.parent.mkdir(parents=True, exist_ok=True)
    try:
        train_or_resume(work, spec.recipe, sets, extra, log=log)
    except subprocess.CalledProcessError:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-3:]).strip() if log.is_file() else ""
        raise TextVAEError(f"run {spec.name} ({spec.recipe}) failed; its log is {log}: {tail[-300:]}") from None
    return publish_run(spec, key, work, artifacts, scale)
