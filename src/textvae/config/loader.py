"""Loading recipes: YAML -> the dataclasses of ``textvae.config``, strictly. An unknown key, a wrong type or an
unknown kind is a TextVAEError naming the file and the key; ``--set section.key=value`` overrides apply first."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from textvae.config.model import DECODER_KINDS, FlatModelConfig, ModelConfig, fixed_length, is_flat, upgrade_flat_model
from textvae.config.sections import Recipe
from textvae.errors import BadValue, TextVAEError


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats: ``1e-3`` and ``5E4`` are numbers, as users write them (YAML
    1.1, PyYAML's default, reads a float without a dot as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """YAML text -> Python values, with YAML 1.2 floats (see :class:`_Loader`)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


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
    if origin is list:
        if not isinstance(value, list):
            raise TextVAEError(f"{source}: '{where}' must be a list, got {type(value).__name__} {value!r}")
        (inner,) = typing.get_args(tp)
        return [_convert(v, inner, f"{where}[{i}]", source) for i, v in enumerate(value)]
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise TextVAEError(f"{source}: '{where}' must be {_type_name(tp)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for i, a in enumerate(inner):
            try:
                return _convert(value, a, where, source)
            except TextVAEError:
                if i == len(inner) - 1:
                    raise TextVAEError(f"{source}: '{where}' must be "
                                       f"{' or '.join(_type_name(a) for a in inner)}, got {value!r}") from None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (type(value) is not tp):
        raise TextVAEError(f"{source}: '{where}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def _pick_kind(f: dataclasses.Field, value: Any, where: str, source: str) -> type:
    """The dataclass of a kind-tagged section (a field whose metadata has ``kinds``), from its ``kind`` key."""
    kinds: dict = f.metadata["kinds"]
    if not isinstance(value, dict):
        raise TextVAEError(f"{source}: '{where}' must be a mapping, got {value!r}")
    kind = value.get("kind", next(iter(kinds)))
    if kind not in kinds:
        raise TextVAEError(f"{source}: '{where}.kind' must be one of {', '.join(map(repr, kinds))}, got {kind!r}")
    return kinds[kind].config


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
        raise BadValue("overrides", "expected KEY=VALUE", repr(text))
    key, raw = text.split("=", 1)
    try:
        return key.strip().split("."), parse_yaml(raw)
    except yaml.YAMLError as exc:
        raise BadValue("overrides", f"not a valid YAML value ({str(exc).splitlines()[0]})", text) from None


DEFAULT_VAE_OBJECTIVE = {"kl_weight": {"schedule": "linear", "steps": 2000}, "word_dropout": {"keep": 0.5},
                         "free_bits": {"per_dim": 1.0}, "bow": {"weight": 1.0, "hidden": 256}}
"""The objective of a VAE recipe that names none: the demo's (``recipes/quick.yaml``), measured against posterior
collapse in ``benchmarks/demo.md`` and, for a recipe that names only its corpus, in ``benchmarks/first_recipe.md``.
An explicit ``objective: {}`` is the plain ELBO."""

_D = DEFAULT_VAE_OBJECTIVE
DEFAULT_OBJECTIVE_NOTE = (f"objective: the recipe names none, so this VAE trains with the library's measured defaults "
                          f"against posterior collapse (free bits {_D['free_bits']['per_dim']} nats per dimension, a "
                          f"bag-of-words term of weight {_D['bow']['weight']}, word keep rate "
                          f"{_D['word_dropout']['keep']}, KL weight annealed {_D['kl_weight']['schedule']}ly over "
                          f"{_D['kl_weight']['steps']:,} steps; benchmarks/demo.md); write `objective: {{}}` for the "
                          f"plain ELBO")


def read_recipe(path: Path, extended_by: tuple[Path, ...] = ()) -> dict:
    """A recipe file as a mapping, with the base recipe it ``extends`` (a path relative to its folder) merged
    under it, recursively: the file states only what differs from its base (:func:`merge_sections`). A base is a
    recipe file too; by convention its name starts with ``_`` (``recipes/liu2019/_ptb.yaml``), which keeps it out
    of the bundled recipes' list."""
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TextVAEError(f"{path}: not a valid YAML file ({str(exc).splitlines()[0]})") from None
    if data is None:
        raise TextVAEError(f"{path}: recipe file is empty (a recipe names at least its sections; see recipes/)")
    if not isinstance(data, dict):
        raise TextVAEError(f"{path}: a recipe must be a mapping of sections")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise TextVAEError(f"{path}: 'extends' must be the path of a base recipe file, got {base!r}")
    base_path = (path.parent / base).resolve()
    if base_path in (*extended_by, path.resolve()):
        raise TextVAEError(f"{path}: 'extends: {base}' leads back to itself ({' -> '.join(map(str, extended_by))})")
    if not base_path.is_file():
        raise TextVAEError(f"{path}: 'extends: {base}': no such file ({base_path})")
    return merge_sections(read_recipe(base_path, (*extended_by, path.resolve())), data)


def merge_sections(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` on top: mappings merged key by key, other values (lists included) replaced; a
    kind-tagged mapping (an encoder or decoder) whose ``kind`` differs from the base's replaces it whole."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and value.get("kind", old.get("kind")) == old.get("kind"):
            out[key] = merge_sections(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_recipe(path: str | Path, overrides: list[str] | None = None, log=None) -> Recipe:
    """Load a recipe YAML file (a path, or the name of a bundled recipe: :func:`textvae.config.bundled.find_recipe`);
    ``overrides`` are ``section.key=value`` strings applied on top. A VAE recipe with no ``objective`` section (in
    the file or the overrides) gets :data:`DEFAULT_VAE_OBJECTIVE`, and ``log`` (if given) is told so."""
    from textvae.config.bundled import find_recipe

    path = find_recipe(path)
    data = read_recipe(path)
    for text in overrides or []:
        keys, value = _parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise BadValue("overrides", f"'{k}' is not a section", text)
        node[keys[-1]] = value
    model = data.get("model")
    if "objective" not in data and (model.get("type", "vae") if isinstance(model, dict) else "vae") == "vae":
        data["objective"] = copy.deepcopy(DEFAULT_VAE_OBJECTIVE)
        if log is not None:
            log(DEFAULT_OBJECTIVE_NOTE)
    recipe = check_ranges(from_dict(Recipe, data, str(path)), str(path))
    pre = Path(recipe.train.pretrain)
    if recipe.train.pretrain and not pre.is_absolute() and not pre.is_file() and (path.parent / pre).is_file():
        recipe.train.pretrain = str(path.parent / pre)  # relative to this recipe's folder
    return recipe


def _model_rules(recipe: Recipe) -> list[tuple[str, Any, bool, str]]:
    """Range rules for the model section: its own, and each encoder and decoder config's
    (:meth:`textvae.config.model.KindConfig.rules`) under its key."""
    m = recipe.model
    rules = [("model.latent_dim", m.latent_dim, m.latent_dim >= 1, ">= 1"),
             ("model.init_range", m.init_range, m.init_range >= 0, ">= 0 (0: PyTorch's own initialisation)"),
             ("model.embed_init_range", m.embed_init_range, m.embed_init_range > 0, "> 0")]
    for part in ("encoder", "decoder"):
        rules += [(f"model.{part}.{name}", value, ok, want.replace("@.", f"model.{part}."))
                  for name, value, ok, want in getattr(m, part).rules()]
    return rules


DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def check_ranges(recipe: Recipe, source: str) -> Recipe:
    """Values a type check cannot catch: each out-of-range value is a TextVAEError naming its key."""
    o, d, t, e = recipe.objective, recipe.data, recipe.train, recipe.eval
    kw = o.kl_weight
    rules = [
        ("data.batch_size", d.batch_size, d.batch_size >= 1, ">= 1"),
        ("data.eval_batch_size", d.eval_batch_size, d.eval_batch_size >= 1, ">= 1"),
        ("data.max_len", d.max_len, d.max_len >= 0, ">= 0 (0: no limit)"),
        ("data.sample_length", d.sample_length, d.sample_length == 0 or d.sample_length >= 2, "0 (off) or >= 2"),
        ("data.samples_per_epoch", d.samples_per_epoch, d.samples_per_epoch >= 0, ">= 0 (0: from the text's size)"),
        ("data.eval_samples", d.eval_samples, d.eval_samples >= 0, ">= 0 (0: no cap)"),
        ("data.vocab_size", d.vocab_size, d.vocab_size == 0 or d.vocab_size > 4,
         "0 (no limit) or more than the 4 special tokens"),
        ("data.min_count", d.min_count, d.min_count >= 1, ">= 1"),
        ("data.valid_fraction", d.valid_fraction, 0 < d.valid_fraction < 1, "in (0, 1)"),
        ("data.test_fraction", d.test_fraction, 0 < d.test_fraction < 1 - d.valid_fraction,
         "in (0, 1 - data.valid_fraction)"),
        *_model_rules(recipe),
        ("objective.autogen.m", o.autogen.m, o.autogen.m >= 0, ">= 0"),
        ("objective.mu_forcing.beta", o.mu_forcing.beta, o.mu_forcing.beta >= 0, ">= 0"),
        ("objective.free_bits.per_dim", o.free_bits.per_dim, o.free_bits.per_dim >= 0, ">= 0"),
        ("objective.free_bits.total", o.free_bits.total, o.free_bits.total >= 0, ">= 0"),
        ("objective.bow.weight", o.bow.weight, o.bow.weight >= 0, ">= 0"),
        ("objective.bow.hidden", o.bow.hidden, o.bow.hidden >= 0, ">= 0 (0: a linear map)"),
        ("objective.kl_weight.value", kw.value, kw.value >= 0, ">= 0"),
        ("objective.kl_weight.start", kw.start, kw.start >= 0, ">= 0"),
        ("objective.kl_weight.steps", kw.steps, kw.steps >= 0, ">= 0"),
        ("objective.kl_weight.delay", kw.delay, kw.delay >= 0, ">= 0"),
        ("objective.aux.weight", o.aux.weight, o.aux.weight >= 0, ">= 0"),
        ("objective.kl_weight.rate", kw.rate, kw.rate > 0, "> 0"),
        ("objective.kl_weight.cycles", kw.cycles, kw.cycles >= 1, ">= 1"),
        ("objective.kl_weight.ratio", kw.ratio, 0 < kw.ratio <= 1, "in (0, 1]"),
        ("objective.word_dropout.keep", o.word_dropout.keep, 0 <= o.word_dropout.keep <= 1, "in [0, 1]"),
        ("train.lr", t.lr, t.lr > 0, "> 0"),
        ("train.momentum", t.momentum, t.momentum >= 0, ">= 0"),
        ("train.weight_decay", t.weight_decay, t.weight_decay >= 0, ">= 0"),
        ("train.epochs", t.epochs, t.epochs >= 1, ">= 1"),
        ("train.max_steps", t.max_steps, t.max_steps >= 0, ">= 0 (0: no limit)"),
        ("train.clip_grad", t.clip_grad, t.clip_grad >= 0, ">= 0"),
        ("train.clip_value", t.clip_value, t.clip_value >= 0, ">= 0"),
        ("train.lr_decay", t.lr_decay, 0 < t.lr_decay <= 1, "in (0, 1] (1: never decay)"),
        ("train.lr_patience", t.lr_patience, t.lr_patience >= 0, ">= 0"),
        ("train.min_lr", t.min_lr, t.min_lr >= 0, ">= 0"),
        ("train.early_stop", t.early_stop, t.early_stop >= 0, ">= 0 (0: never)"),
        ("train.max_decays", t.max_decays, t.max_decays >= 0, ">= 0 (0: no limit)"),
        ("train.decay_from", t.decay_from, t.decay_from >= 0, ">= 0"),
        ("train.threads", t.threads, t.threads >= 0, ">= 0 (0: torch's default)"),
        ("train.checkpoint_every", t.checkpoint_every, t.checkpoint_every >= 1, ">= 1"),
        ("train.log_every", t.log_every, t.log_every >= 1, ">= 1"),
        ("train.accumulate", t.accumulate, t.accumulate >= 1, ">= 1"),
        ("train.aggressive_steps", t.aggressive_steps, t.aggressive_steps >= 1, ">= 1"),
        ("train.device", t.device, bool(DEVICE.match(t.device)), "auto, cpu, cuda, cuda:N or mps"),
        ("eval.iw_samples", e.iw_samples, e.iw_samples >= 0, ">= 0 (0: no nll_iw)"),
        ("eval.final_iw_samples", e.final_iw_samples, e.final_iw_samples >= 0, ">= 0 (0: no nll_iw after training)"),
        ("eval.iw_tokens", e.iw_tokens, e.iw_tokens >= 0, ">= 0 (0: auto)"),
        ("eval.au_threshold", e.au_threshold, e.au_threshold >= 0, ">= 0"),
        ("eval.n_samples", e.n_samples, e.n_samples >= 0, ">= 0"),
    ]
    for key, value, ok, want in rules:
        if isinstance(value, float) and not math.isfinite(value):
            ok = False
        if not ok:
            raise TextVAEError(f"{source}: '{key}' must be {want}, got {value!r}")
    if recipe.model.type == "lm" and DECODER_KINDS[recipe.model.decoder.kind].needs_z:
        raise TextVAEError(f"{source}: 'model.decoder.kind' {recipe.model.decoder.kind!r} decodes from a latent code: "
                           f"model.type must be vae or ae, not lm")
    if d.sample_length and d.tokenizer != "char":
        raise TextVAEError(f"{source}: 'data.sample_length' draws character fragments: it needs data.tokenizer char, "
                           f"not {d.tokenizer}")
    fixed = fixed_length(recipe.model)
    if d.sample_length and fixed and d.sample_length > fixed:
        raise TextVAEError(f"{source}: 'data.sample_length' {d.sample_length} is longer than the model's fixed length "
                           f"{fixed} (model.encoder/decoder.length)")
    if o.free_bits.per_dim > 0 and o.free_bits.total > 0:
        raise TextVAEError(f"{source}: 'objective.free_bits': give per_dim or total, not both")
    if o.free_bits.per_sentence and not o.free_bits.per_dim > 0:
        raise TextVAEError(f"{source}: 'objective.free_bits.per_sentence' needs objective.free_bits.per_dim > 0")
    if t.aggressive and recipe.model.type != "vae":
        raise TextVAEError(f"{source}: 'train.aggressive' trains the encoder of a VAE against its decoder: model.type "
                           f"must be vae, not {recipe.model.type}")
    if t.aggressive and t.accumulate > 1:
        raise TextVAEError(f"{source}: 'train.aggressive' with train.accumulate > 1 is not supported; use one")
    if t.reset and not (t.init_from or t.pretrain):
        raise TextVAEError(f"{source}: 'train.reset' re-initialises parts of weights loaded by train.init_from or "
                           f"train.pretrain: give one of them (a run folder, a recipe file), or no train.reset")
    if t.init_from and t.pretrain:
        raise TextVAEError(f"{source}: 'train.init_from' and 'train.pretrain' both say where this run's weights start: "
                           f"give one")
    return recipe


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False)
