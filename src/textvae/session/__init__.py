"""Sessions: a trained run reopened for inference, and everything a user asks of it as functions that return
JSON-ready data. The CLI prints these results; a web page or a notebook calls the same functions::

    from textvae.session import open_run, sample, interpolate
    s = open_run("runs/quick")
    sample(s, n=5)["sentences"]
    interpolate(s, "the company said it would sell", "he is a good man", steps=5)
"""

from textvae.session.canvas import canvas
from textvae.session.compare import compare
from textvae.session.core import Session, open_run
from textvae.session.impute import adversarial, impute, impute_split
from textvae.session.latent import (
    analogy,
    attribute_transfer,
    check_codes_path,
    encode,
    generate_eval,
    interpolate,
    labelled_lines,
    nearest,
    reconstruct,
    sample,
    save_codes,
)
from textvae.session.report import evaluate_split, evaluation_plan, final_iw_samples, reconstruction_bleu, showcase

__all__ = ["Session", "adversarial", "analogy", "attribute_transfer", "canvas", "check_codes_path", "compare", "encode",
           "evaluate_split", "evaluation_plan", "final_iw_samples", "generate_eval", "impute", "impute_split",
           "interpolate", "labelled_lines", "nearest", "open_run", "reconstruct", "reconstruction_bleu", "sample",
           "save_codes", "showcase"]
