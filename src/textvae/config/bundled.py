"""The recipes that ship with textvae, found by name from anywhere: ``textvae train quick`` or
``textvae train bowman2016/ptb_vae``. A checkout has them in ``recipes/``; ``pip install`` puts the same files in
``<prefix>/share/textvae/recipes`` (the wheel's data files, as the bundled corpora). Imports no torch."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from textvae.errors import TextVAEError


def shipped_folder(name: str, env: str) -> Path:
    """Where a folder that ships with textvae (``data``, ``recipes``) is: $``env``; else that folder of the source
    checkout this module is in; else where ``pip install`` put it (``<prefix>/share/textvae/NAME``, the wheel's
    data files)."""
    if os.environ.get(env):
        return Path(os.environ[env])
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    return Path(sysconfig.get_path("data")) / "share" / "textvae" / name


def recipe_root() -> Path:
    """Where the bundled recipes are: $TEXTVAE_RECIPES, the checkout's ``recipes/``, or the installed copy."""
    return shipped_folder("recipes", "TEXTVAE_RECIPES")


def bundled_recipes() -> dict[str, Path]:
    """Name -> file of every bundled recipe, sorted by name; the name is the path under the recipe folder
    without ``.yaml`` (``quick``, ``bowman2016/ptb_vae``). Bases that recipes extend (``_NAME.yaml``) are not
    recipes of their own and are left out."""
    root = recipe_root()
    if not root.is_dir():
        return {}
    return {p.relative_to(root).with_suffix("").as_posix(): p for p in sorted(root.rglob("*.yaml"))
            if not p.name.startswith("_")}


def recipe_summary(path: Path, width: int = 110) -> str:
    """A recipe's header comment (its ``#`` lines before the first key) on one line, cut at a word to at most
    ``width`` characters with "..."; "" without a header."""
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    text = " ".join(x for x in header if x)
    return text if len(text) <= width else text[: width - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def find_recipe(name: str | Path) -> Path:
    """A recipe file: ``name`` itself where it is a file, else the bundled recipe of that name (``quick``,
    ``bowman2016/ptb_vae``, with or without ``.yaml``). Neither: a TextVAEError saying where to look."""
    path = Path(name)
    if path.is_file():
        return path
    key = path.as_posix().removesuffix(".yaml")
    known = bundled_recipes()
    if key in known:
        return known[key]
    if key.startswith("recipes/") and key[len("recipes/"):] in known:  # recipes/quick.yaml outside a checkout
        return known[key[len("recipes/"):]]
    near = [k for k in known if k.rsplit("/", 1)[-1] == key.rsplit("/", 1)[-1] or key in k][:5]
    hint = f"did you mean {', '.join(near)}?" if near else "`textvae recipes` lists the bundled ones"
    raise TextVAEError(f"{name}: recipe file not found, nor a bundled recipe of that name ({hint})")
