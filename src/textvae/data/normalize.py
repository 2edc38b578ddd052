"""Bringing text a user types (or passes in a file) to the form of a run's corpus.

A corpus is tokenized and normalised once, its own way (PTB: Penn Treebank tokens, lower case, numbers as ``N``,
no punctuation). A sentence typed as "The company said it doesn't expect a $1.5 million loss." must reach the
model in that form, "the company said it does n't expect a $ N million loss", or most of its words become
``<unk>``. A :class:`Normalizer` applies the corpus's recorded style (``data.input`` of the run's config):

1. words already in the vocabulary, as typed or lower-cased (when the style lowers), are kept as they are, so
   text already in the corpus's form passes unchanged (``<unk>``, ``mr.``, ``n't``);
2. every run of other words is tokenized together by the style's tokenizer (``penn``: NLTK's Treebank
   tokenizer; ``moses``: sacremoses; ``word``: whitespace; ``char``: characters), lower-cased if the style says,
   numbers replaced by the style's number token, and punctuation the vocabulary lacks dropped if the style says;
3. what is still not in the vocabulary is reported as unknown (it becomes ``<unk>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from textvae.data.vocab import UNK, Vocab

NUMBER = re.compile(r"^[+-]?(\d+([.,:/-]\d+)*|\.\d+)(st|nd|rd|th|s)?$")
PUNCT = re.compile(r"^[^\w\s]+$")


@cache
def _penn():
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


@cache
def _moses(lang: str = "en"):
    from sacremoses import MosesTokenizer

    return MosesTokenizer(lang=lang)


@cache
def _jieba():
    import logging

    try:
        import jieba
    except ImportError:
        from textvae.errors import TextVAEError

        raise TextVAEError("the jieba tokenizer needs jieba: pip install 'textvae[zh]'") from None
    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
    return jieba


def split_text(text: str, tokenizer: str) -> list[str]:
    """Tokens of raw ``text`` by ``tokenizer``: word (whitespace), char, moses (sacremoses, no escaping), penn
    (Penn Treebank conventions: ``does n't``, ``$ 1.5``) or jieba (Chinese word segmentation; white space
    dropped)."""
    if tokenizer == "word":
        return text.split()
    if tokenizer == "char":
        return list(" ".join(text.split()))
    if tokenizer == "moses":
        return _moses().tokenize(text, escape=False)
    if tokenizer == "penn":
        return _penn().tokenize(text)
    if tokenizer == "jieba":
        return [t for t in _jieba().lcut(text) if t.strip()]
    raise ValueError(f"unknown tokenizer {tokenizer!r}")


@dataclass
class Style:
    """How a corpus was normalised: ``tokenizer`` (word, char, moses, penn), ``lower``, ``numbers`` (the token
    that replaced numbers; "" if they were kept), ``punct`` (keep, or drop punctuation the vocabulary lacks) and
    ``clean`` (tweet: the tweets corpus's pre-processing first; none)."""

    tokenizer: str = "moses"
    lower: bool = False
    numbers: str = ""
    punct: str = "keep"
    clean: str = "none"


@dataclass
class Normalized:
    """A normalised sentence: its ``tokens``, their ``ids`` and the tokens not in the vocabulary."""

    tokens: list[str]
    ids: list[int]
    unknown: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


class Normalizer:
    """Text a user types -> tokens and ids of a run's vocabulary, in the corpus's style (see the module)."""

    def __init__(self, style: Style, vocab: Vocab):
        self.style, self.vocab = style, vocab

    def _known(self, word: str) -> str | None:
        if word in self.vocab.stoi:
            return word
        if self.style.lower and word.lower() in self.vocab.stoi:
            return word.lower()
        return None

    def _normalise(self, chunk: str) -> list[str]:
        s = self.style
        out = []
        for tok in split_text(chunk, s.tokenizer):
            if s.lower:
                tok = tok.lower()
            if s.numbers and tok not in self.vocab.stoi and NUMBER.match(tok):
                tok = s.numbers
            if s.punct == "drop" and tok not in self.vocab.stoi and PUNCT.match(tok):
                continue
            out.append(tok)
        return out

    def __call__(self, text: str) -> Normalized:
        if self.style.clean == "tweet":
            from textvae.data.tweets import clean_tweet

            text = clean_tweet(text)
        if self.style.tokenizer == "char":
            tokens = self._normalise(text)
        else:
            tokens, pending = [], []
            for piece in text.split():
                known = self._known(piece)
                if known is None:
                    pending.append(piece)
                    continue
                if pending:
                    tokens += self._normalise(" ".join(pending))
                    pending = []
                tokens.append(known)
            if pending:
                tokens += self._normalise(" ".join(pending))
        ids = self.vocab.encode(tokens)
        return Normalized(tokens, ids, [t for t, i in zip(tokens, ids, strict=True) if i == UNK and t != "<unk>"])
