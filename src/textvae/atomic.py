"""Atomic file writes: write a temporary file beside the target, fsync, then rename. A temporary file left by a
process killed mid-write is named ``.<target>.<random>.tmp``; :func:`remove_stale_temps` clears them."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textvae.errors import TextVAEError

_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path`` in one rename.

    A crash at any moment leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    if path.is_dir():
        raise TextVAEError(f"{path}: is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise TextVAEError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    write_atomic(path, _write)


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (nan, inf) replaced by None, so that it is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def to_json(obj: Any, **kw) -> str:
    """Strict JSON (non-finite floats as null, see :func:`finite`)."""
    return json.dumps(finite(obj), allow_nan=False, **kw)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, to_json(obj, indent=2) + "\n")


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files of atomic writes that a killed process left in ``folder`` (call it only where
    no other process is writing). Returns the paths removed."""
    folder = Path(folder)
    stale = [p for p in folder.iterdir() if p.is_file() and _TEMP.match(p.name)] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
