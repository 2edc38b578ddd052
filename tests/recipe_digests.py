"""The SHA-256 of every bundled recipe's loaded config (``recipe_to_yaml(load_recipe(path))``), kept in
``tests/fixtures/recipe_digests.json``: ``tests/test_config.py`` checks that every recipe still loads to the config
it loaded to when the file was written (recipes that ``extends:`` a base included). A deliberate change of a recipe
or of a config default rewrites it: ``python tests/recipe_digests.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from textvae.config import load_recipe, recipe_to_yaml
from textvae.config.bundled import bundled_recipes, recipe_root

FILE = Path(__file__).parent / "fixtures" / "recipe_digests.json"


def digests() -> dict[str, str]:
    """Recipe name -> the SHA-256 of its loaded config as YAML (paths it resolved written from the recipe folder,
    so that every checkout has the same digests)."""
    root = str(recipe_root().resolve())
    return {name: hashlib.sha256(recipe_to_yaml(load_recipe(path)).replace(root, "recipes").encode()).hexdigest()
            for name, path in bundled_recipes().items()}


if __name__ == "__main__":
    FILE.write_text(json.dumps(digests(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FILE}")
