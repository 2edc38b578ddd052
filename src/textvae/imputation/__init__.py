"""Imputing missing words (Bowman et al. 2016, section 5), and the adversarial evaluation of imputations.

A sentence with missing words is a :data:`Blanked` list of token ids in the model's order with ``None`` where a
word is missing; an :class:`Imputer` fills every blank with one word and never changes a visible word. Imputers:

- :class:`ICMImputer` (``icm``, the VAE's): approximate iterated conditional modes. The missing words start as
  ``<unk>``; then, ``iterations`` times, z is set to the mode of q(z|x) and a beam search of ``width`` that is
  constrained to the visible words reassigns the missing ones. The completion with the best
  log p(x | z) + log p(z) is kept. With one iteration it is the plain constrained beam search (``beam``, the
  RNNLM's: a language model has no z).
- :class:`EMImputer` (``em``, AUTR's Algorithm 2): random initial guesses for the missing words, then z ~ q(z|x)
  and a constrained beam search in turn until the completion stops changing; several restarts, the completion
  with the best ELBO kept.

``IMPUTERS`` builds one by name; :func:`default_imputer` picks the papers' settings for a model (VAE: 3 x beam 5,
RNNLM: beam 15).
"""

from textvae.imputation.imputers import (
    IMPUTERS,
    Blanked,
    EMImputer,
    ICMImputer,
    Imputed,
    Imputer,
    constrained_beam,
    default_imputer,
    default_method,
    make_imputer,
)
from textvae.imputation.masks import MASKS, blank_out

__all__ = ["IMPUTERS", "MASKS", "Blanked", "EMImputer", "ICMImputer", "Imputed", "Imputer", "blank_out",
           "constrained_beam", "default_imputer", "default_method", "make_imputer"]
