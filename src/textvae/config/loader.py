"""Loading recipes: YAML -> the dataclasses of ``textvae.config``, strictly. An unknown key, a wrong type or an
unknown kind is a TextVAEError naming the file and the key; ``--set section.key=value`` overrides apply first."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from textvae.config.model import FlatModelConfig, ModelConfig, is_flat, upgrade_flat_model
from textvae.config.sections import Recipe
from textvae.errors import TextVAEError


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TextVAEError(f"{source}: '{where}' must be a mapping, got {value!r}")
        return from_dict(tp, value, source, prefix=where + ".")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise TextVAEError(f"{source}: '{where}' must be {_type_name(tp)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where, source)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (type(value) is not tp):
        raise TextVAEError(f"{source}: '{where}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def _pick_kind(f: dataclasses.Field, value: Any, where: str, source: str) -> type:
    """The dataclass of a kind-tagged section (a field whose metadata has ``kinds``), from its ``kind`` key."""
    kinds: dict[str, type] = f.metadata["kinds"]
    if not isinstance(value, dict):
        raise TextVAEError(f"{source}: '{where}' must be a mapping, got {value!r}")
    kind = value.get("kind", next(iter(kinds)))
    if kind not in kinds:
        raise TextVAEError(f"{source}: '{where}.kind' must be one of {', '.join(map(repr, kinds))}, got {kind!r}")
    return kinds[kind]


def _upgrade_flat(data: dict, source: str, prefix: str) -> dict:
    """A flat (textvae 0.1) model section, checked strictly as that shape, in the nested shape."""
    if "encoder" in data or "decoder" in data:
        flat = sorted(k for k in data if k not in ("type", "latent_dim", "encoder", "decoder"))
        raise TextVAEError(f"{source}: '{prefix}{flat[0]}' belongs to the flat model section of textvae 0.1; "
                           f"with encoder/decoder sections, put it inside one of them")
    return upgrade_flat_model(from_dict(FlatModelConfig, data, source, prefix))


def from_dict(cls: type, data: dict, source: str = "recipe", prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys, wrong types and unknown kinds raise TextVAEError.

    A field whose metadata holds ``kinds`` (kind -> dataclass) is loaded as the dataclass its ``kind`` names. A
    flat model section (textvae 0.1) is upgraded to the nested shape first (``textvae.config.model``)."""
    if cls is ModelConfig and is_flat(data):
        data = _upgrade_flat(data, source, prefix)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise TextVAEError(f"{source}: unknown key '{prefix}{key}' (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for k, v in data.items():
        if "kinds" in fields[k].metadata:
            kwargs[k] = from_dict(_pick_kind(fields[k], v, prefix + k, source), v, source, prefix + k + ".")
        else:
            kwargs[k] = _convert(v, hints[k], prefix + k, source)
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise TextVAEError(f"--set: expected KEY=VALUE, got '{text}'")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Load a recipe YAML file; ``overrides`` are ``section.key=value`` strings applied on top."""
    path = Path(path)
    if not path.is_file():
        raise TextVAEError(f"{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TextVAEError(f"{path}: not a valid YAML file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise TextVAEError(f"{path}: a recipe must be a mapping of sections")
    for text in overrides or []:
        keys, value = _parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise TextVAEError(f"--set {text}: '{k}' is not a section")
        node[keys[-1]] = value
    return check_ranges(from_dict(Recipe, data, str(path)), str(path))


def check_ranges(recipe: Recipe, source: str) -> Recipe:
    """Values a type check cannot catch: each out-of-range value is a TextVAEError naming its key."""
    o = recipe.objective
    rules = [
        ("objective.autogen.m", o.autogen.m, o.autogen.m >= 0, ">= 0"),
        ("objective.mu_forcing.beta", o.mu_forcing.beta, o.mu_forcing.beta >= 0, ">= 0"),
        ("objective.free_bits.per_dim", o.free_bits.per_dim, o.free_bits.per_dim >= 0, ">= 0"),
        ("objective.free_bits.total", o.free_bits.total, o.free_bits.total >= 0, ">= 0"),
        ("objective.bow.weight", o.bow.weight, o.bow.weight >= 0, ">= 0"),
        ("objective.kl_weight.cycles", o.kl_weight.cycles, o.kl_weight.cycles >= 1, ">= 1"),
        ("objective.kl_weight.ratio", o.kl_weight.ratio, 0 < o.kl_weight.ratio <= 1, "in (0, 1]"),
        ("objective.word_dropout.keep", o.word_dropout.keep, 0 <= o.word_dropout.keep <= 1, "in [0, 1]"),
        ("train.clip_grad", recipe.train.clip_grad, recipe.train.clip_grad >= 0, ">= 0"),
        ("train.clip_value", recipe.train.clip_value, recipe.train.clip_value >= 0, ">= 0"),
    ]
    for key, value, ok, want in rules:
        if not ok:
            raise TextVAEError(f"{source}: '{key}' must be {want}, got {value!r}")
    if o.free_bits.per_dim > 0 and o.free_bits.total > 0:
        raise TextVAEError(f"{source}: 'objective.free_bits': give per_dim or total, not both")
    return recipe


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False)
