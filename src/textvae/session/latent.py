"""What a user asks of a trained run's latent space, as functions of a :class:`Session` that return JSON-ready
data (dicts of strings, numbers and lists). The CLI prints these results; a web page or a notebook calls the
same functions. Sentences in and out are text; the run's tokenizer and vocabulary apply."""

from __future__ import annotations

from pathlib import Path

import torch

from textvae.analysis import analogy as analogy_code
from textvae.analysis import attribute_vector, best_matching, homotopy, reconstruction_scores
from textvae.atomic import write_atomic
from textvae.config import fixed_length
from textvae.data.corpus import LABELS
from textvae.data.normalize import Normalized
from textvae.data.source import corpus_labels
from textvae.decoding import DecodeOptions, decode
from textvae.errors import BadValue, TextVAEError
from textvae.session.core import Session

GREEDY = DecodeOptions(method="greedy")


def reading(read: list[Normalized]) -> dict:
    """How user text was read: words (tokens after normalisation), how many were unknown (they became <unk>) and
    which (at most 20, first seen first)."""
    unknown = list(dict.fromkeys(w for r in read for w in r.unknown))
    return {"words": sum(len(r.tokens) for r in read), "unknown": sum(len(r.unknown) for r in read),
            "unknown_words": unknown[:20]}


def sample(s: Session, n: int = 10, opts: DecodeOptions = GREEDY, seed: int = 0, stretch: float = 0.0) -> dict:
    """``n`` sentences decoded from z ~ N(0, I) (with ``stretch`` c > 0, Bowman's stretched prior); from an RNNLM,
    unconditional. Keys: method, stretch, seed, prior (False for an autoencoder, which has none: its decodes of
    N(0, I) are for contrast only), sentences."""
    if n < 1:
        raise BadValue("n", f"must be at least 1, got {n}")
    sentences = s.decode(s.prior(n, seed, stretch), opts, n)
    has_prior = s.model.is_stochastic or not s.model.has_latent
    return {"method": opts.method, "stretch": stretch, "seed": seed, "prior": has_prior, "sentences": sentences}


def reconstruct(s: Session, lines: list[str], opts: DecodeOptions = GREEDY, samples: int = 3, seed: int = 0,
                corpus: bool = False) -> dict:
    """Decodes of each line's posterior mean and of ``samples`` draws from q(z|x) (Bowman et al. Table 7), with
    corpus BLEU and the exact-match rate against the lines as the model sees them (unknown words as <unk>).
    ``lines`` are user text, read in the corpus's style, or with ``corpus`` lines of the corpus itself. Keys:
    sentences, method, mean {bleu, exact}, samples {bleu, exact} (a VAE with samples > 0 only), reading (see
    :func:`reading`), examples [{input (the line as given), read_as (its words as the model reads them, as the other
    commands show them; words the vocabulary lacks are listed in reading), mean, samples}]."""
    read = [s.corpus_line(line) if corpus else s.read(line) for line in lines]
    ids = [r.ids for r in read]
    refs = [s.text(x) for x in ids]  # scored as the model sees them: unknown words as <unk>
    mu, logvar = s.codes_of_ids(ids)
    from_mean = s.decode(mu, opts)
    result = {"sentences": len(refs), "method": opts.method, "mean": reconstruction_scores(refs, from_mean),
              "reading": reading(read)}
    drawn = []
    if samples > 0 and logvar is not None:
        g = torch.Generator(device=s.device).manual_seed(seed)
        drawn = [s.decode(s.model.latent.sample(mu, logvar, generator=g), opts) for _ in range(samples)]
        result["samples"] = reconstruction_scores(refs * samples, [x for d in drawn for x in d])
    result["examples"] = [{"input": line, "read_as": s.words(r.tokens), "mean": m, "samples": [d[i] for d in drawn]}
                          for i, (line, r, m) in enumerate(zip(lines, read, from_mean, strict=True))]
    return result


def interpolate(s: Session, a: str | None = None, b: str | None = None, steps: int = 5, opts: DecodeOptions = GREEDY,
                prior: bool = False, seed: int = 0) -> dict:
    """Homotopy (Bowman et al. 6.3): decodes of ``steps`` evenly spaced codes on the line between the posterior
    means of sentences ``a`` and ``b``, or (``prior``) between two codes from N(0, I). Keys: endpoints (None with
    ``prior``), steps [{t, sentence}]."""
    if prior == (a is not None or b is not None) or (not prior and b is None):
        raise BadValue("a/b", "give two sentences, or prior codes")
    if steps < 2:
        raise BadValue("steps", f"must be at least 2, got {steps}")
    s.require_latent()
    read = [] if prior else [s.read(a), s.read(b)]
    z = s.prior(2, seed) if prior else s.codes_of_ids([r.ids for r in read])[0]
    sentences = s.decode(homotopy(z[0], z[1], steps), opts)
    ts = torch.linspace(0, 1, steps).tolist()
    return {"endpoints": None if prior else [a, b], "read_as": [r.text for r in read], "reading": reading(read),
            "steps": [{"t": t, "sentence": x} for t, x in zip(ts, sentences, strict=True)]}


def analogy(s: Session, a: str, p: str, q: str, opts: DecodeOptions = GREEDY) -> dict:
    """The decode of z_a + z_q - z_p (a is to b as p is to q), posterior means. Keys: a, p, q, b, read_as, reading."""
    read = [s.read(x) for x in (a, p, q)]
    z, _ = s.codes_of_ids([r.ids for r in read])
    (out,) = s.decode(analogy_code(z[0], z[1], z[2]).unsqueeze(0), opts)
    return {"a": a, "p": p, "q": q, "b": out, "read_as": [r.text for r in read], "reading": reading(read)}


def attribute_transfer(s: Session, source: list[str] = (), target: list[str] = (), apply: list[str] = (),
                       scale: float = 1.0, opts: DecodeOptions = GREEDY, from_label: str | None = None,
                       to_label: str | None = None, split: str = "train", per_label: int = 2000,
                       limit: int = 0) -> dict:
    """mu-Forcing 5.6: v = mean posterior mean of ``target`` - that of ``source`` (e.g. negative -> positive),
    added ``scale`` times to the posterior means of the ``apply`` sentences. The two sets are typed sentences, or
    with ``from_label`` and ``to_label`` (together, instead of ``source`` and ``target``) the first ``per_label``
    lines of the run's corpus ``split`` that carry each label (0: all). ``apply``: typed sentences to edit; none:
    the source set itself; ``limit`` > 0 edits at most that many. The one function the CLI and the web app call.
    Keys: vector_norm, scale, reading (of all three sets), rows [{input, read_as, decoded (without v), edited}]."""
    labelled = from_label is not None or to_label is not None
    if labelled and (from_label is None or to_label is None):
        raise BadValue("from_label/to_label", "give both, or neither and two sets of sentences")
    if labelled and (source or target):
        raise BadValue("from_label/to_label", "give labels or sentences of both attributes, not both")
    if not labelled and not (source and target):
        raise BadValue("source/target", "give sentences of both attributes (or from_label and to_label)")
    if labelled:
        source, target = (labelled_lines(s, split, x)[:per_label or None] for x in (from_label, to_label))
    edit_source = not apply
    apply = list(source if edit_source else apply)[:limit or None]
    kinds = (labelled, labelled, labelled and edit_source)
    sets = [[(s.corpus_line if k else s.read)(x) for x in lines]
            for k, lines in zip(kinds, (source, target, apply), strict=True)]
    z_from, z_to, z = (s.codes_of_ids([r.ids for r in read])[0] for read in sets)
    vec = attribute_vector(z_from, z_to)
    before, after = s.decode(z, opts), s.decode(z + scale * vec, opts)
    rows = [{"input": x, "read_as": r.text, "decoded": b0, "edited": b1}
            for x, r, b0, b1 in zip(apply, sets[2], before, after, strict=True)]
    return {"vector_norm": float(vec.norm()), "scale": scale, "reading": reading([r for rs in sets for r in rs]),
            "rows": rows}


def labelled_lines(s: Session, split: str, label: str) -> list[str]:
    """The lines of a split of the run's corpus that carry ``label`` (a labelled corpus: yelp neg/pos, tweets
    negative/neutral/positive, chinese_reviews neg/pos)."""
    labels = corpus_labels(s.recipe.data, split) if split in ("train", "valid", "test") else None
    if labels is None:
        raise BadValue("from_label/to_label", f"the corpus {s.recipe.data.corpus!r} of {s.run_path} has no "
                           f"labels (labelled corpora: {', '.join(LABELS)})")
    lines = s.split_lines(split)
    chosen = [x for x, y in zip(lines, labels, strict=True) if y == label]
    if not chosen:
        raise TextVAEError(f"label {label!r}: no line of the {split} split has it (labels: "
                           f"{', '.join(sorted(set(labels)))})")
    return chosen


def nearest(s: Session, sentence: str, candidates: list[str], k: int = 5, per_token: bool = True,
            corpus: bool = False) -> dict:
    """AUTR's best-matching sentences: the ``k`` candidates of highest log p(x | z = mu(sentence)), per token with
    </s> (``per_token``, the default: a total favours the shortest sentences) or per sentence. ``candidates`` are
    user text read in the corpus's style, or with ``corpus`` lines of the corpus (each distinct line once); for a
    model of fixed length the candidates longer than it are left out (``too_long``). Keys: query, read_as, reading,
    candidates (scored), too_long, unit, matches [{sentence, log_p}]."""
    candidates = list(dict.fromkeys(candidates))  # a sentence the corpus holds twice is one match, not two
    query = s.read(sentence)
    z, _ = s.codes_of_ids([query.ids])
    pool = [s.ids(x) for x in candidates] if corpus else [s.read(x).ids for x in candidates]
    length = fixed_length(s.recipe.model)
    keep = [i for i, ids in enumerate(pool) if not length or len(ids) < length]  # a fixed length scores no longer
    if not keep:
        raise TextVAEError(f"no candidate fits this model's fixed length of {length} tokens")
    scores, idx = best_matching(s.model, z, [pool[i] for i in keep], k, s.recipe.data.eval_batch_size, per_token)
    rows = [{"sentence": candidates[keep[i]], "log_p": v}
            for v, i in zip(scores[0].tolist(), idx[0].tolist(), strict=True)]
    unit = "log p(x | z) per token (</s> counted), nats" if per_token else "log p(x | z) per sentence, nats"
    return {"query": sentence, "read_as": query.text, "reading": reading([query]), "candidates": len(keep),
            "too_long": len(pool) - len(keep), "unit": unit, "matches": rows}


def encode(s: Session, lines: list[str]) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """Posterior means and log-variances (None for the autoencoder) of every line of user text, in order, (N, Z)
    on the CPU, and how the lines were read (:func:`reading`)."""
    read = [s.read(x) for x in lines]
    mu, logvar = s.codes_of_ids([r.ids for r in read])
    return mu.cpu().contiguous(), None if logvar is None else logvar.cpu().contiguous(), reading(read)


def check_codes_path(out: Path) -> None:
    """A TextVAEError unless ``out`` names a file :func:`save_codes` can write (.npy or .safetensors)."""
    if out.suffix not in (".npy", ".safetensors"):
        raise BadValue("out", "must end in .npy or .safetensors", out)


def save_codes(out: Path, mu: torch.Tensor, logvar: torch.Tensor | None) -> list[str]:
    """Write codes to ``out``: X.safetensors (tensors mu, logvar; one atomic file) or X.npy (mu; logvar to
    X.logvar.npy). The .npy pair is written so that a kill at any moment never leaves a new X.npy beside an old
    X.logvar.npy: the old X.logvar.npy is removed before the new X.npy replaces the old one, and the new
    X.logvar.npy comes last. Returns the paths written."""
    check_codes_path(out)
    if out.suffix == ".safetensors":
        from safetensors.torch import save_file

        tensors = {"mu": mu} if logvar is None else {"mu": mu, "logvar": logvar}
        write_atomic(out, lambda tmp: save_file(tensors, tmp))
        return [str(out)]
    partner = out.with_suffix(".logvar.npy")
    written = [(out, mu)] + ([] if logvar is None else [(partner, logvar)])
    if partner.is_file():
        partner.unlink()
    for path, t in written:
        _save_npy(path, t)
    return [str(p) for p, _ in written]


def _save_npy(path: Path, t: torch.Tensor) -> None:
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, t.numpy())

    write_atomic(path, write)


def generate_eval(s: Session, n: int = 3000, refs: int = 3000, opts: DecodeOptions = GREEDY, seed: int = 0) -> dict:
    """Quality and diversity of ``n`` prior samples (mu-Forcing 5.4): BLEU-4/5 against the first ``refs`` test
    sentences (0: all), Self-BLEU-4/5, distinct-1/2 and mean length, scored on token lists of the model's
    vocabulary. Keys: method, seed, the scores, samples, references, examples (10 sentences)."""
    from textvae.analysis.generation import generation_scores

    if n < 2:
        raise BadValue("n", f"must be at least 2 (Self-BLEU compares samples with each other), got {n}")
    sample_ids = decode(s.model.decoder, s.prior(n, seed), opts, n)
    lines = s.split_lines("test")  # corpus lines: tokenized as the corpus was
    lines = lines[:refs] if refs > 0 else lines
    references = [s.vocab.decode(s.ids(x)) for x in lines]  # unknown words as <unk>, as the samples see them
    scores = generation_scores([s.vocab.decode(x) for x in sample_ids], references)
    return {"method": opts.method, "seed": seed, **scores, "examples": [s.text(x) for x in sample_ids[:10]]}
