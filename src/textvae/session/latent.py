"""What a user asks of a trained run's latent space, as functions of a :class:`Session` that return JSON-ready
data (dicts of strings, numbers and lists). The CLI prints these results; a web page or a notebook calls the
same functions. Sentences in and out are text; the run's tokenizer and vocabulary apply."""

from __future__ import annotations

from pathlib import Path

import torch

from textvae.analysis import analogy as analogy_code
from textvae.analysis import attribute_vector, best_matching, homotopy, reconstruction_scores
from textvae.atomic import write_atomic
from textvae.decoding import DecodeOptions, decode
from textvae.errors import TextVAEError
from textvae.session.core import Session

GREEDY = DecodeOptions(method="greedy")


def sample(s: Session, n: int = 10, opts: DecodeOptions = GREEDY, seed: int = 0, stretch: float = 0.0) -> dict:
    """``n`` sentences decoded from z ~ N(0, I) (with ``stretch`` c > 0, Bowman's stretched prior); from an RNNLM,
    unconditional. Keys: method, stretch, seed, prior (False for an autoencoder, which has none: its decodes of
    N(0, I) are for contrast only), sentences."""
    if n < 1:
        raise TextVAEError("--n: at least 1")
    sentences = s.decode(s.prior(n, seed, stretch), opts, n)
    has_prior = s.model.is_stochastic or not s.model.has_latent
    return {"method": opts.method, "stretch": stretch, "seed": seed, "prior": has_prior, "sentences": sentences}


def reconstruct(s: Session, lines: list[str], opts: DecodeOptions = GREEDY, samples: int = 3, seed: int = 0) -> dict:
    """Decodes of each line's posterior mean and of ``samples`` draws from q(z|x) (Bowman et al. Table 7), with
    corpus BLEU and the exact-match rate against the lines as the model sees them (tokenized, unknown words as
    <unk>). Keys: sentences, method, mean {bleu, exact}, samples {bleu, exact} (a VAE with samples > 0 only),
    examples [{input, mean, samples}]."""
    refs = [s.text(s.ids(line)) for line in lines]
    mu, logvar = s.codes(lines)
    from_mean = s.decode(mu, opts)
    result = {"sentences": len(refs), "method": opts.method, "mean": reconstruction_scores(refs, from_mean)}
    drawn = []
    if samples > 0 and logvar is not None:
        g = torch.Generator(device=s.device).manual_seed(seed)
        drawn = [s.decode(s.model.latent.sample(mu, logvar, generator=g), opts) for _ in range(samples)]
        result["samples"] = reconstruction_scores(refs * samples, [x for d in drawn for x in d])
    result["examples"] = [{"input": r, "mean": m, "samples": [d[i] for d in drawn]}
                          for i, (r, m) in enumerate(zip(refs, from_mean, strict=True))]
    return result


def interpolate(s: Session, a: str | None = None, b: str | None = None, steps: int = 5, opts: DecodeOptions = GREEDY,
                prior: bool = False, seed: int = 0) -> dict:
    """Homotopy (Bowman et al. 6.3): decodes of ``steps`` evenly spaced codes on the line between the posterior
    means of sentences ``a`` and ``b``, or (``prior``) between two codes from N(0, I). Keys: endpoints (None with
    ``prior``), steps [{t, sentence}]."""
    if prior == (a is not None or b is not None) or (not prior and b is None):
        raise TextVAEError("give two sentences A B, or --prior")
    if steps < 2:
        raise TextVAEError("--steps: at least 2")
    s.require_latent()
    z = s.prior(2, seed) if prior else s.codes([a, b])[0]
    sentences = s.decode(homotopy(z[0], z[1], steps), opts)
    ts = torch.linspace(0, 1, steps).tolist()
    return {"endpoints": None if prior else [a, b],
            "steps": [{"t": t, "sentence": x} for t, x in zip(ts, sentences, strict=True)]}


def analogy(s: Session, a: str, p: str, q: str, opts: DecodeOptions = GREEDY) -> dict:
    """The decode of z_a + z_q - z_p (a is to b as p is to q), posterior means. Keys: a, p, q, b."""
    z, _ = s.codes([a, p, q])
    (out,) = s.decode(analogy_code(z[0], z[1], z[2]).unsqueeze(0), opts)
    return {"a": a, "p": p, "q": q, "b": out}


def attribute_transfer(s: Session, source: list[str], target: list[str], apply: list[str], scale: float = 1.0,
                       opts: DecodeOptions = GREEDY) -> dict:
    """mu-Forcing 5.6: v = mean posterior mean of ``target`` - that of ``source`` (e.g. negative -> positive),
    added ``scale`` times to the posterior means of the ``apply`` lines. Keys: vector_norm, scale, rows [{input,
    decoded (without v), edited}]."""
    z_from, _ = s.codes(source)
    z_to, _ = s.codes(target)
    vec = attribute_vector(z_from, z_to)
    z, _ = s.codes(apply)
    before, after = s.decode(z, opts), s.decode(z + scale * vec, opts)
    rows = [{"input": x, "decoded": b0, "edited": b1} for x, b0, b1 in zip(apply, before, after, strict=True)]
    return {"vector_norm": float(vec.norm()), "scale": scale, "rows": rows}


def nearest(s: Session, sentence: str, candidates: list[str], k: int = 5, per_token: bool = False) -> dict:
    """AUTR's best-matching sentences: the ``k`` candidates of highest log p(x | z = mu(sentence)), per sentence
    or (``per_token``) per token with </s>. Keys: query, unit, matches [{sentence, log_p}]."""
    z, _ = s.codes([sentence])
    scores, idx = best_matching(s.model, z, [s.ids(x) for x in candidates], k, s.recipe.data.eval_batch_size,
                                per_token)
    rows = [{"sentence": candidates[i], "log_p": v} for v, i in zip(scores[0].tolist(), idx[0].tolist(), strict=True)]
    return {"query": sentence, "unit": "nats per token" if per_token else "nats", "matches": rows}


def encode(s: Session, lines: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Posterior means and log-variances (None for the autoencoder) of every line, in order, (N, Z) on the CPU."""
    mu, logvar = s.codes(lines)
    return mu.cpu().contiguous(), None if logvar is None else logvar.cpu().contiguous()


def check_codes_path(out: Path) -> None:
    """A TextVAEError unless ``out`` names a file :func:`save_codes` can write (.npy or .safetensors)."""
    if out.suffix not in (".npy", ".safetensors"):
        raise TextVAEError(f"--out: {out}: must end in .npy or .safetensors")


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
        raise TextVAEError("--n: at least 2 (Self-BLEU compares samples with each other)")
    sample_ids = decode(s.model, s.prior(n, seed), opts, n)
    lines = s.split_lines("test")
    lines = lines[:refs] if refs > 0 else lines
    references = [s.vocab.decode(s.ids(x)) for x in lines]  # unknown words as <unk>, as the samples see them
    scores = generation_scores([s.vocab.decode(x) for x in sample_ids], references)
    return {"method": opts.method, "seed": seed, **scores, "examples": [s.text(x) for x in sample_ids[:10]]}
