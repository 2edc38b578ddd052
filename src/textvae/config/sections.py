"""The sections of a recipe: data, objective, training and evaluation options, and the Recipe that holds them
with the model section (``textvae.config.model``). Plain dataclasses; ``textvae.config.loader`` fills them from YAML
strictly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from textvae.config.model import ModelConfig

TOKENIZERS = ("word", "char", "moses", "penn", "jieba")
"""The tokenizers of corpus lines (``textvae.data.tokenize``): the one list every option and message reads."""
Tokenizer = Literal["word", "char", "moses", "penn", "jieba"]
assert Tokenizer.__args__ == TOKENIZERS  # the Literal a recipe is checked against


@dataclass
class InputConfig:
    """How text a user types is brought to the corpus's form (``textvae.data.normalize``). "auto": the corpus's
    registered style, else from ``data.tokenizer`` (whitespace-tokenized corpora: moses) and ``data.lower``. A run
    records the resolved values in its config.yaml."""

    tokenizer: Literal["auto", Tokenizer] = "auto"
    lower: Literal["auto", True, False] = "auto"
    numbers: str = "auto"
    """The token that replaces numbers ("N" in PTB); "" keeps numbers."""
    punct: Literal["auto", "keep", "drop"] = "auto"
    """drop: punctuation the vocabulary lacks is left out (PTB has none)."""
    clean: Literal["auto", "none", "tweet"] = "auto"
    """tweet: user names -> @userid, links -> url, HTML entities decoded first (the tweets corpus's pre-processing,
    ``textvae.data.tweets.clean_tweet``)."""


@dataclass
class DataConfig:
    corpus: str = "ptb"
    """A registry name (see ``textvae.data.corpus.CORPORA``), a folder holding train/valid/test files, or one text
    file split into train/valid/test by ``valid_fraction``, ``test_fraction`` and ``split_seed``."""
    tokenizer: Tokenizer = "word"
    """How corpus lines become tokens: word (already tokenized: whitespace), char, moses (raw text: sacremoses),
    penn (raw text: Penn Treebank conventions, NLTK's Treebank tokenizer), jieba (Chinese text: jieba's word
    segmentation; install textvae[zh])."""
    lower: bool = False
    reverse: bool = False
    """Right to left: the model reads and writes each sentence last word first (Bowman et al.'s imputation
    models). Text in and out of a run stays in reading order."""
    input: InputConfig = field(default_factory=InputConfig)
    valid_fraction: float = 0.05
    """A single-file corpus: the share of its lines held out for validation."""
    test_fraction: float = 0.05
    split_seed: int = 0
    max_len: int = 0
    """Drop training sentences with more tokens than this (0: keep all). Evaluation splits are never filtered."""
    cut: bool = False
    """Cut every sentence of every split to fit: models of fixed length (the conv encoder, the deconv, hybrid,
    bytenet and autr decoders) to length - 1 tokens and </s>, other models to ``max_len`` tokens (so that models
    of both kinds see the same test sentences). Off: a sentence that does not fit a fixed length is an error
    naming its file and line."""
    sample_length: int = 0
    """Character samples (Semeniuta et al.'s PTB experiments; needs tokenizer char): > 0 replaces every split's
    sentences by word-aligned fragments of at most sample_length - 1 characters from random positions of the text
    (``textvae.data.fragments``), redrawn each training epoch (deterministically: resume stays exact) and fixed
    for validation and test. 0: whole lines."""
    samples_per_epoch: int = 0
    """Fragments per training epoch (0: one per sample_length characters of the training text)."""
    eval_samples: int = 10000
    """Fragments of each evaluation split: one per sample_length characters of the split, at most this many (0: no
    cap). The authors validate on 6,400; mutual information over N samples costs N^2."""
    vocab_size: int = 0
    """Most frequent words kept, specials included (0: no limit)."""
    min_count: int = 1
    batch_size: int = 32
    """Sentences per training batch; batches hold sentences of similar length."""
    eval_batch_size: int = 128


@dataclass
class KLWeightConfig:
    schedule: Literal["constant", "linear", "sigmoid", "cyclical"] = "constant"
    value: float = 1.0
    """Constant weight (lambda; < 1 as in Alemi et al.), or the final weight of an annealing schedule."""
    start: float = 0.0
    """Weight at step 0 (linear)."""
    steps: int = 10000
    """linear: steps from ``start`` to ``value``; sigmoid: step of the midpoint is steps/2; cyclical: the
    steps that the ``cycles`` cycles span (the weight stays at ``value`` after them)."""
    rate: float = 0.0025
    """sigmoid: slope k of value / (1 + exp(-k (step - steps/2)))."""
    delay: int = 0
    """Steps before the schedule starts: the weight holds its step-0 value until then (Semeniuta et al. start
    annealing after 1,000 steps with the auxiliary term, 10,000 without)."""
    cycles: int = 4
    """cyclical (Fu et al. 2019): number of cycles M."""
    ratio: float = 0.5
    """cyclical: fraction R of each cycle spent rising linearly from 0 to ``value``."""


@dataclass
class WordDropoutConfig:
    keep: float = 1.0
    """Probability k of keeping each conditioned-on word; the rest become <unk> (training only)."""


@dataclass
class AutoGenConfig:
    m: float = 0.0
    """AutoGen (1+m) factor on the reconstruction term; m = 0 is the plain ELBO."""


@dataclass
class MuForcingConfig:
    beta: float = 0.0
    """Margin on the batch spread of posterior means: max(0, beta - 1/(2N) sum ||mu_n - mean mu||^2); 0: off."""


@dataclass
class FreeBitsConfig:
    per_dim: float = 0.0
    """Free bits (Kingma et al. 2016): each dimension's batch-mean KL enters as max(per_dim, KL_d), nats."""
    total: float = 0.0
    """FB-all: the batch-mean total KL enters as max(total, KL), nats."""
    per_sentence: bool = False
    """With per_dim: the target applies to each sentence's KL_d, averaged after (Li et al. 2019's ``fb 2``), rather
    than to the batch mean of KL_d (Kingma et al.)."""


@dataclass
class AuxConfig:
    weight: float = 0.0
    """alpha of Semeniuta et al.'s auxiliary reconstruction term alpha x J_aux (eq. 3-4): the decoder's auxiliary
    head (the deconvolution features of the hybrid and bytenet decoders) scored like rec; 0: off."""
    head: str = "deconv"


@dataclass
class BowConfig:
    weight: float = 0.0
    """Bag-of-words loss (Zhao et al. 2017) weight; 0: off."""
    hidden: int = 400
    """Hidden units of the MLP z -> bag of words (0: a linear map)."""


@dataclass
class ObjectiveConfig:
    kl_weight: KLWeightConfig = field(default_factory=KLWeightConfig)
    word_dropout: WordDropoutConfig = field(default_factory=WordDropoutConfig)
    autogen: AutoGenConfig = field(default_factory=AutoGenConfig)
    mu_forcing: MuForcingConfig = field(default_factory=MuForcingConfig)
    free_bits: FreeBitsConfig = field(default_factory=FreeBitsConfig)
    bow: BowConfig = field(default_factory=BowConfig)
    aux: AuxConfig = field(default_factory=AuxConfig)


@dataclass
class TrainConfig:
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    epochs: int = 30
    max_steps: int = 0
    """Stop after this many optimiser steps (0: no limit)."""
    accumulate: int = 1
    """Batches per optimiser step (gradient accumulation): each step's batch of batch_size x accumulate sentences
    (bucketed as one) is split into ``accumulate`` parts whose gradients add up, so that it needs the memory of
    one part. With deterministic models the result equals one batch of batch_size x accumulate."""
    clip_grad: float = 5.0
    """Max global gradient norm (0: no clipping)."""
    clip_value: float = 0.0
    """Clip every gradient element to [-clip_value, clip_value] (mu-Forcing's element-wise clipping; 0: off).
    Applied before ``clip_grad`` when both are set."""
    lr_decay: float = 0.5
    """Factor applied to the learning rate when validation loss plateaus (1: never decay)."""
    lr_patience: int = 1
    """Epochs in a row without a better validation loss that the rate tolerates: it decays at the
    (lr_patience + 1)-th (torch's ReduceLROnPlateau). The protocol papers' code decays at the ``decay_epoch``-th:
    lr_patience = decay_epoch - 1."""
    min_lr: float = 1e-5
    decay_from: int = 0
    """No decay at the ends of the first ``decay_from`` epochs (the epochs without a better validation loss still
    count, so the rate can decay at once after them): the protocol papers' code waits 15."""
    decay_reload: bool = False
    """At each decay of the rate, go on from the best weights so far (by validation), the optimiser's state
    cleared: the protocol papers' code (He et al. 2019, Li et al. 2019)."""
    max_decays: int = 0
    """Stop after this many decays of the rate (0: no limit; the protocol papers' code: 5)."""
    early_stop: int = 5
    """Stop after this many epochs without a better validation loss (0: never)."""
    select: Literal["auto", "neg_elbo", "rec"] = "auto"
    """The validation figure that picks the best weights, decays the learning rate and stops early: neg_elbo (the
    bound; nll for an RNNLM), or rec. auto: rec when the KL weight is a constant 0 (pure reconstruction, as in
    Semeniuta et al.'s Fig. 3: the KL then grows unchecked and the bound would pick the first epoch), else
    neg_elbo (rec for an autoencoder)."""
    seed: int = 0
    device: str = "auto"
    """auto (CUDA when present), cpu, cuda, cuda:N."""
    bf16: bool | Literal["auto"] = False
    """bfloat16 autocast for the forward pass. auto: time one training pass both ways when the run starts and use
    bf16 only when it takes under 0.9 of fp32's time (the choice is logged and kept on resume)."""
    threads: int = 0
    """torch CPU threads (0: torch default)."""
    checkpoint_every: int = 200
    """Steps between resumable checkpoints (also written at every epoch end)."""
    log_every: int = 50
    tensorboard: bool = False
    aggressive: bool = False
    """He et al. 2019's aggressive inference-network training: encoder-only steps on fresh batches before each
    decoder step, until the validation mutual information stops rising (``training/aggressive.py``)."""
    aggressive_steps: int = 100
    """At most this many encoder steps before each decoder step (He et al.: 100)."""
    init_from: str = ""
    """A run folder whose best weights start this run (same architecture and vocabulary); empty: a fresh start.
    Li et al. 2019's recipe: a VAE trained with KL weight 0 (an autoencoder with a Gaussian encoder), then this."""
    pretrain: str = ""
    """A recipe file trained first, to its end, in the sibling run folder ``OUT-pretrain``; its best weights then
    start this run as ``init_from``'s would (Li et al. 2019 in one command: the autoencoder, then this run). A path
    as given, else relative to this recipe's folder. Its data and model sections must equal this recipe's. Killed
    while pretraining, the same command continues the pretraining where it stopped."""
    reset: list[Literal["encoder", "latent", "decoder"]] = field(default_factory=list)
    """Parts that keep their fresh initialisation when ``init_from`` or ``pretrain`` loads the rest (Li et al.:
    [decoder])."""


@dataclass
class EvalConfig:
    iw_samples: int = 500
    """K importance samples for nll_iw: the protocol's 500, what ``textvae evaluate`` uses."""
    final_iw_samples: int = 50
    """K for the test evaluation that ends ``textvae train`` (at most ``iw_samples``; 0: no nll_iw there). Smaller
    than the protocol's K so that a short run is not dominated by its last evaluation (K = 500 on the 250 test
    sentences of ``snli`` took 10x the training time of a one-epoch run); ``textvae evaluate RUN --iw-samples 500``
    gives the protocol's figure, and ``textvae train --iw-samples K`` sets it for one run."""
    iw_tokens: int = 0
    """nll_iw decodes about this many target tokens (sentence-sample pairs x length) per forward pass. 0: auto,
    4,096 on a CPU (1.3-1.4x faster than 32,768 there: smaller logit blocks; ``docs/metrics.md``), 32,768 on a GPU."""
    bf16: bool | Literal["auto"] = False
    """bfloat16 autocast for nll_iw's decoder passes. auto: on one batch, time nll_iw both ways with the same samples
    and use bf16 only when it takes under 0.9 of fp32's time and moves the estimate by under 0.05 nats per sentence
    (the report says which it chose and why). Off by default: the protocol's figures then do not depend on the
    machine."""
    mi: Literal["dataset", "minibatch"] = "dataset"
    au_threshold: float = 0.01
    seed: int = 1234
    n_samples: int = 5
    """Prior samples and test reconstructions printed at the end of training."""


@dataclass
class Recipe:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
