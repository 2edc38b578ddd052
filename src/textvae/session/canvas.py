"""AUTR's canvas pictures as data (``textvae canvas``): what the canvas says after chosen writing steps, and how
much attention every slot has received."""

from __future__ import annotations

from textvae.analysis.canvas import canvas_pictures, is_canvas_model
from textvae.errors import BadValue, TextVAEError
from textvae.session.core import Session
from textvae.session.latent import reading


def canvas(s: Session, sentence: str | None = None, seed: int = 0, at: list[int] | None = None,
           width: int = 15) -> dict:
    """The canvas of an AUTR run written from the posterior mean of ``sentence`` (or, without one, from
    z ~ N(0, I) drawn with ``seed``): ``reads`` [{step, sentence}], the sentence a beam of ``width`` reads off the
    canvas after each step of ``at`` (default: every quarter of the T steps; Fig. 2), and ``attention``, the
    cumulative attention of each slot after each step, (T + 1) x L from step 0 (Fig. 3). Also steps (T), slots
    (L) and empty (True when every read is the empty sentence: a model that has not learned to write yet)."""
    s.require_latent()
    dec = s.model.decoder
    if not is_canvas_model(s.model):
        raise TextVAEError(f"{s.run_path}: the canvas is AUTR's; this run's decoder is "
                           f"{s.recipe.model.decoder.kind}")
    total = dec.steps
    at = sorted(set(at or [max(1, round(total * k / 4)) for k in (1, 2, 3, 4)]))
    bad = [t for t in at if not 1 <= t <= total]
    if bad:
        raise BadValue("at", f"steps must be in 1..{total} (the run's T), got {bad[0]}")
    if width < 1:
        raise BadValue("width", f"must be >= 1, got {width}")
    read = [s.read(sentence)] if sentence is not None else []
    z = s.codes_of_ids([read[0].ids])[0] if read else s.prior(1, seed)
    pics = canvas_pictures(s.model, z, at, width)
    reads = [{"step": t, "sentence": s.text(ids)} for t, ids in pics["reads"].items()]
    return {"sentence": sentence, "read_as": [r.text for r in read], "reading": reading(read), "seed": seed,
            "steps": total, "slots": dec.max_len, "reads": reads,
            "empty": not any(x["sentence"].strip() for x in reads),
            "attention": [[round(float(v), 6) for v in row] for row in pics["attention"]]}
