"""The reference code's side of ``benchmarks/reference.py``: run with a checkout of jxhe/vae-lagging-encoder
first on ``sys.path`` (its ``data`` and ``modules`` packages), it builds that code's own PTB VAE, trains it with
that code's own training step (``VAE.loss``, two SGD optimisers, norm clipping at 5, the KL weight raised every
step as ``text.py`` does), then times that code's ``VAE.nll_iw`` (one sentence per batch, 100 samples per pass, as
``text.py``'s ``calc_iwnll``) and ``beam_search_decode`` (one sentence at a time) on the first test sentences.
Writes one JSON file. Nothing here is the reference code: it only calls it."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from modules import VAE, LSTMDecoder, LSTMEncoder  # the reference checkout's packages

from data import MonoTextData


def _uniform(bound: float):
    return lambda tensor: torch.nn.init.uniform_(tensor, -bound, bound)  # text.py's initialisers: 0.01 and 0.1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="folder with ptb.train.txt and ptb.test.txt")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--sentences", type=int, default=200)
    ap.add_argument("--iw-samples", type=int, default=500)
    ap.add_argument("--width", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=783435)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    device = torch.device("cpu")
    # the protocol papers' PTB configuration (issue 19): 256-d embeddings and LSTMs, z = 32, dropout 0.5 in and out
    args = argparse.Namespace(ni=256, enc_nh=256, dec_nh=256, nz=32, dec_dropout_in=0.5, dec_dropout_out=0.5,
                              batch_size=32, device=device, kl_start=0.1, warm_up=10)
    train = MonoTextData(str(a.data / "ptb.train.txt"))
    vocab = train.vocab
    test = MonoTextData(str(a.data / "ptb.test.txt"), vocab=vocab)
    test.data = test.data[: a.sentences]
    vae = VAE(LSTMEncoder(args, len(vocab), _uniform(0.01), _uniform(0.1)),
              LSTMDecoder(args, vocab, _uniform(0.01), _uniform(0.1)), args).to(device)
    enc_opt = torch.optim.SGD(vae.encoder.parameters(), lr=1.0)
    dec_opt = torch.optim.SGD(vae.decoder.parameters(), lr=1.0)
    batches = train.create_data_batch(batch_size=args.batch_size, device=device, batch_first=True)
    kl_weight = args.kl_start
    anneal_rate = (1.0 - args.kl_start) / (args.warm_up * (len(train) / args.batch_size))
    steps = tokens = 0
    seconds = 0.0
    vae.train()
    for _ in range(a.epochs):
        for i in np.random.permutation(len(batches)):
            if a.max_steps and steps >= a.max_steps:
                break
            batch = batches[i]
            start = time.perf_counter()
            kl_weight = min(1.0, kl_weight + anneal_rate)
            enc_opt.zero_grad()
            dec_opt.zero_grad()
            loss, _, _ = vae.loss(batch, kl_weight, nsamples=1)
            loss.mean().backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), 5.0)
            enc_opt.step()
            dec_opt.step()
            seconds += time.perf_counter() - start
            steps += 1
            tokens += (batch.size(1) - 1) * batch.size(0)  # targets: words and </s>, not <s>
    vae.eval()
    with torch.no_grad():
        iw_batches = test.create_data_batch(batch_size=1, device=device, batch_first=True)
        start = time.perf_counter()
        nll = sum(float(vae.nll_iw(b, nsamples=a.iw_samples, ns=min(100, a.iw_samples)).sum()) for b in iw_batches)
        iw_seconds = time.perf_counter() - start
        beam_batches = test.create_data_batch(batch_size=32, device=device, batch_first=True)
        start = time.perf_counter()
        decoded = []
        for b in beam_batches:
            mu, _ = vae.encoder(b)  # the posterior means
            decoded += vae.decoder.beam_search_decode(mu, a.width)
        beam_seconds = time.perf_counter() - start
    n = len(test.data)
    out = {"train": {"steps": steps, "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds},
           "nll_iw": {"sentences": n, "iw_samples": a.iw_samples, "seconds": iw_seconds,
                      "sentences_per_s": n / iw_seconds, "nll_iw": nll / n},
           "beam": {"sentences": n, "width": a.width, "seconds": beam_seconds, "sentences_per_s": n / beam_seconds,
                    "tokens": sum(len(s) - 1 for s in decoded),  # each starts with <s>
                    "tokens_per_s": sum(len(s) - 1 for s in decoded) / beam_seconds},
           "vocab_size": len(vocab), "params": sum(p.numel() for p in vae.parameters()), "threads": a.threads}
    a.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
