"""Adversarial evaluation of imputations (Bowman et al. 2016, section 5, Table 4).

A 50/50 set of true sentences (label 1) and sentences with imputed completions (label 0) is split 80/10/10 into
train, dev and test; two discriminators learn to tell them apart, each selected on the dev part:

- a bag-of-unigrams logistic regression (scikit-learn; the inverse regularisation C chosen on dev);
- an LSTM logistic regression that reads the sentence and predicts after its final </s> (torch; early stopping
  on dev accuracy).

The adversarial error is the gap between the discriminator's test accuracy and the 50% of indistinguishable
samples, in percentage points: lower means imputations harder to tell from the truth.
"""

from __future__ import annotations

import random

import torch
from torch import nn

from textvae.data.batching import make_batch
from textvae.errors import TextVAEError
from textvae.progress import task


def split_80_10_10(true: list[list[int]], fake: list[list[int]], seed: int) -> dict[str, tuple[list, list]]:
    """(sentences, labels) for train, dev and test: true (1) and fake (0) shuffled together by ``seed``."""
    data = [(s, 1) for s in true] + [(s, 0) for s in fake]
    random.Random(seed).shuffle(data)
    n = len(data)
    cuts = {"train": (0, int(0.8 * n)), "dev": (int(0.8 * n), int(0.9 * n)), "test": (int(0.9 * n), n)}
    return {k: ([s for s, _ in data[a:b]], [y for _, y in data[a:b]]) for k, (a, b) in cuts.items()}


def unigram_accuracy(parts: dict, vocab_size: int) -> dict:
    """Bag-of-unigrams logistic regression: counts of each token id; C from 10^-2..10^3 by dev accuracy. Returns
    dev and test accuracy and the chosen C."""
    try:
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise TextVAEError("the adversarial evaluation needs scikit-learn: pip install 'textvae[eval]'") from None

    def counts(sentences: list[list[int]]):
        rows = [i for i, s in enumerate(sentences) for _ in s]
        cols = [t for s in sentences for t in s]
        return csr_matrix(([1.0] * len(cols), (rows, cols)), shape=(len(sentences), vocab_size))

    x = {k: counts(v[0]) for k, v in parts.items()}
    best = None
    for c in (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0):
        clf = LogisticRegression(C=c, max_iter=2000).fit(x["train"], parts["train"][1])
        dev = clf.score(x["dev"], parts["dev"][1])
        if best is None or dev > best[0]:
            best = (dev, c, clf)
    dev, c, clf = best
    return {"dev_accuracy": dev, "test_accuracy": clf.score(x["test"], parts["test"][1]), "C": c}


class LSTMDiscriminator(nn.Module):
    """Reads a sentence (x_1..x_n </s>) and predicts true (1) or imputed (0) from its state after </s>."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_dim: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, 1)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, L) = x_1..x_n </s> padded, lengths (B,) = n + 1 -> logits (B,)."""
        h, _ = self.lstm(self.embed(tokens))
        return self.out(h[torch.arange(h.shape[0]), lengths - 1]).squeeze(-1)


def lstm_accuracy(parts: dict, vocab_size: int, seed: int, max_epochs: int = 30, patience: int = 3,
                  batch_size: int = 64) -> dict:
    """The LSTM logistic regression, trained with Adam until dev accuracy has not improved for ``patience``
    epochs; the weights of its best dev epoch give the test accuracy."""
    torch.manual_seed(seed)
    model = LSTMDiscriminator(vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()

    def batches(sentences, labels, shuffle_seed=None):
        order = list(range(len(sentences)))
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(order)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            b = make_batch([sentences[j] for j in idx], idx)
            yield b.tgt, b.lengths, torch.tensor([labels[j] for j in idx], dtype=torch.float)

    @torch.no_grad()
    def accuracy(split: str) -> float:
        model.eval()
        right = sum(int(((model(x, n) > 0).float() == y).sum()) for x, n, y in batches(*parts[split]))
        return right / max(1, len(parts[split][1]))

    best, best_state, bad, epochs = -1.0, None, 0, 0
    per_epoch = -(-len(parts["train"][1]) // batch_size)
    # progress on stderr: the total is the epoch cap, so the ETA is an upper bound (dev accuracy stops it early)
    with task(f"train the LSTM discriminator (at most {max_epochs} epochs)", max_epochs * per_epoch,
              "batches") as progress:
        for epoch in range(max_epochs):
            model.train()
            for x, n, y in batches(*parts["train"], shuffle_seed=seed * 1000 + epoch):
                opt.zero_grad()
                loss_fn(model(x, n), y).backward()
                opt.step()
                progress.advance()
            epochs = epoch + 1
            dev = accuracy("dev")
            if dev > best:
                best, best_state, bad = dev, {k: v.clone() for k, v in model.state_dict().items()}, 0
            else:
                bad += 1
                if bad >= patience:
                    break
    model.load_state_dict(best_state)
    return {"dev_accuracy": best, "test_accuracy": accuracy("test"), "epochs": epochs}


def adversarial_errors(true: list[list[int]], fake: list[list[int]], vocab_size: int, seed: int = 0) -> dict:
    """Both discriminators on true vs imputed sentences (token ids, reading order): their dev and test accuracy
    and the adversarial error, 100 x (test accuracy - 0.5), percentage points."""
    if min(len(true), len(fake)) < 10:
        raise TextVAEError(f"the adversarial evaluation needs at least 10 true and 10 imputed sentences, got "
                           f"{len(true)} and {len(fake)}")
    parts = split_80_10_10(true, fake, seed)
    out = {"sizes": {k: len(v[1]) for k, v in parts.items()}}
    for name, result in (("unigram", unigram_accuracy(parts, vocab_size)),
                         ("lstm", lstm_accuracy(parts, vocab_size, seed))):
        out[name] = {**result, "adversarial_error": 100.0 * (result["test_accuracy"] - 0.5)}
    return out
