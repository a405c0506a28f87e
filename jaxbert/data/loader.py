"""The grain pipeline and `prepare()`: from a data config to batches.

  prepare(config, workdir, seed) -> PretrainingData
    tokenizer (trained or loaded) -> TFDS corpus (built once, cached) -> examples

  train:  range(inf)[shard::S] -> batch(B) -> BatchTransform -> prefetch
          element g of the global stream is example perm_e[g mod N] of epoch e = g // N,
          perm_e a seeded permutation per epoch; masking keys are (seed, e, example).
  eval:   range(M * S)[shard::S] -> batch(B) -> BatchTransform; indices >= N are padding
          rows (example_weights 0), M = per-process rows rounded up to a multiple of B.

The only iterator state is the position in the stream, so grain's
`get_state()` / `set_state()` (and `grain.checkpoint` through orbax) resume exactly.
See jaxbert/data/__init__.py for the batch contract.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Iterator

import grain
import ml_collections
import numpy as np

from jaxbert.data import corpus as corpus_lib
from jaxbert.data import examples as examples_lib
from jaxbert.data import masking as masking_lib
from jaxbert.data import tokenizer as tokenizer_lib
from jaxbert.data.tfds_corpus import builder as builder_lib

DEFAULT_DATA_DIR = "~/.cache/jaxbert/tfds"


class BatchTransform(grain.transforms.Map):
  """Stream indices int64 [B] -> one batch dict (module level, so workers can pickle it)."""

  def __init__(self, store: examples_lib.ExampleStore, masker: masking_lib.Masker, *,
               max_seq_length: int, seed: int, shuffle: bool):
    self.store, self.masker, self.seed, self.shuffle = store, masker, seed, shuffle
    self.length = max_seq_length
    self._perms: dict[int, np.ndarray] = {}

  def _permutation(self, epoch: int) -> np.ndarray:
    if epoch not in self._perms:
      if len(self._perms) > 2:
        self._perms.pop(min(self._perms))
      rng = np.random.default_rng([self.seed, epoch, 0x5AFF1E])
      self._perms[epoch] = rng.permutation(len(self.store)).astype(np.int64)
    return self._perms[epoch]

  def map(self, stream: np.ndarray) -> dict[str, np.ndarray]:
    n, s, l = len(self.store), self.store, self.length
    stream = np.asarray(stream, np.int64)
    epoch, pos = stream // n, stream % n
    if self.shuffle:
      example = np.array([self._permutation(int(e))[p] for e, p in zip(epoch, pos)], np.int64)
      real = np.ones(len(stream), bool)
    else:  # eval: one pass in order, indices past the end are padding rows
      real = stream < n
      example, epoch = np.where(real, stream, 0), np.zeros_like(stream)
    start = s.offsets[example]
    size = np.where(real, s.offsets[example + 1] - start, 0)               # [B]
    idx = np.minimum(start[:, None] + np.arange(l), len(s.ids) - 1)        # [B, L]
    valid = np.arange(l) < size[:, None]                                   # [B, L]
    ids = np.where(valid, s.ids[idx], 0).astype(np.int32)
    batch = self.masker(ids, masking_lib.example_keys(self.seed, epoch, example))
    batch["attention_mask"] = valid.astype(np.int32)
    batch["token_type_ids"] = np.where(valid, s.types[idx], 0).astype(np.int32)
    batch["sentence_labels"] = np.where(real, s.labels[example], 0).astype(np.int32)
    batch["example_weights"] = real.astype(np.float32)
    if s.segs is not None:
      segs = np.where(valid, s.segs[idx], 0).astype(np.int32)              # [B, L]
      new = np.ones_like(valid)
      new[:, 1:] = segs[:, 1:] != segs[:, :-1]
      first = np.maximum.accumulate(np.where(new, np.arange(l), 0), axis=1)
      batch["segment_ids"] = segs
      batch["position_ids"] = np.where(valid, np.arange(l) - first, 0).astype(np.int32)
    return batch


@dataclasses.dataclass
class PretrainingData:
  """Everything prepare() made: tokenizer, examples, masker, and the batch factories."""
  config: ml_collections.ConfigDict
  seed: int
  tokenizer: tokenizer_lib.Tokenizer
  train_examples: examples_lib.ExampleStore
  eval_examples: examples_lib.ExampleStore
  masker: masking_lib.Masker
  dataset_dir: str = ""   # where the TFDS dataset lives
  tokenizer_dir: str = ""  # where vocab.txt and tokenizer.json are (the workdir)

  @property
  def vocab_size(self) -> int:
    return self.tokenizer.vocab_size

  def _transform(self, store, shuffle: bool) -> BatchTransform:
    return BatchTransform(store, self.masker, max_seq_length=self.config.max_seq_length,
                          seed=self.seed, shuffle=shuffle)

  def _check(self, batch_size: int, shard_index: int, shard_count: int):
    if batch_size < 1 or not 0 <= shard_index < shard_count:
      raise ValueError(f"need batch_size >= 1 and 0 <= shard_index < shard_count "
                       f"(got {batch_size}, {shard_index}, {shard_count})")

  def train_dataset(self, batch_size: int, *, shard_index: int = 0,
                    shard_count: int = 1) -> grain.IterDataset:
    """Infinite per-process batches of `batch_size` (B), as a grain IterDataset."""
    self._check(batch_size, shard_index, shard_count)
    ds = grain.MapDataset.range(2**62)[shard_index::shard_count]
    ds = ds.batch(batch_size, drop_remainder=True).map(self._transform(self.train_examples, True))
    workers = int(self.config.get("worker_count", 0))
    if workers > 0:
      from absl import flags  # grain's workers read absl flags
      if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
      return ds.to_iter_dataset().mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    return ds.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=4))

  def train_iterator(self, batch_size: int, *, shard_index: int = 0,
                     shard_count: int = 1) -> grain.DatasetIterator:
    """An infinite iterator of batches with get_state() / set_state()."""
    return iter(self.train_dataset(batch_size, shard_index=shard_index, shard_count=shard_count))

  def num_eval_batches(self, batch_size: int, shard_count: int = 1) -> int:
    """Eval batches per process: the same on every process."""
    return math.ceil(math.ceil(len(self.eval_examples) / shard_count) / batch_size)

  def eval_dataset(self, batch_size: int, *, shard_index: int = 0,
                   shard_count: int = 1) -> grain.MapDataset:
    """One finite pass over the held-out examples, padded to whole batches."""
    self._check(batch_size, shard_index, shard_count)
    rows = self.num_eval_batches(batch_size, shard_count) * batch_size
    ds = grain.MapDataset.range(rows * shard_count)[shard_index::shard_count]
    return ds.batch(batch_size).map(self._transform(self.eval_examples, False))

  def eval_batches(self, batch_size: int, *, shard_index: int = 0,
                   shard_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
    ds = self.eval_dataset(batch_size, shard_index=shard_index, shard_count=shard_count)
    return (ds[i] for i in range(len(ds)))


def _documents(builder, split: str) -> list[list[np.ndarray]]:
  """Documents of a split, in corpus order, as lists of int32 sentences."""
  source = builder.as_data_source(split)
  records = sorted((source[i] for i in range(len(source))), key=lambda r: int(r["doc_index"]))
  return [np.split(r["tokens"], np.cumsum(r["sentence_lengths"])[:-1]) for r in records]


def _tokenizer(config, workdir: str, seed: int) -> tuple[tokenizer_lib.Tokenizer, str]:
  """The run's tokenizer and its directory: config.tokenizer_dir, workdir, or trained."""
  lowercase = bool(config.lowercase)
  saved = os.path.exists(os.path.join(workdir, "vocab.txt"))
  if config.get("tokenizer_dir", ""):
    tok = tokenizer_lib.load_tokenizer(config.tokenizer_dir, lowercase)
    if saved and tokenizer_lib.load_tokenizer(workdir, lowercase).fingerprint() != tok.fingerprint():
      raise ValueError(f"workdir {workdir!r} already holds a different vocab.txt than "
                       f"data.tokenizer_dir {config.tokenizer_dir!r}; use a fresh workdir")
    tok.save(workdir)
  elif saved:  # a resumed run keeps its vocabulary
    tok = tokenizer_lib.load_tokenizer(workdir, lowercase)
  else:
    docs = corpus_lib.read_documents(config.corpus, config.format, config.text_feature)
    held = set(builder_lib.heldout_documents(len(docs), config.eval_fraction, seed).tolist())
    sentences = (s for i, d in enumerate(docs) if i not in held for s in d)
    tok = tokenizer_lib.train_tokenizer(sentences, config.vocab_size, lowercase)
    tok.save(workdir)
  return tok, workdir


def prepare(config: ml_collections.ConfigDict, workdir: str, seed: int = 0) -> PretrainingData:
  """Tokenizer, cached TFDS corpus and examples for `config` (default_data_config()).

  Writes workdir/vocab.txt and workdir/tokenizer.json. `config.seed` >= 0 overrides
  `seed`. Raises ValueError with one message on a missing or empty corpus, a bad
  vocabulary, documents too short for examples or token ids outside the vocabulary.
  """
  seed = int(config.seed) if config.get("seed", -1) >= 0 else int(seed)
  os.makedirs(workdir, exist_ok=True)
  tok, tok_dir = _tokenizer(config, workdir, seed)
  data_dir = os.path.expanduser(config.get("data_dir", "") or DEFAULT_DATA_DIR)
  bconfig = builder_lib.config_for(config.corpus, config.format, config.text_feature, tok_dir,
                                   bool(config.lowercase), config.eval_fraction, seed)
  builder = builder_lib.build_corpus(bconfig, data_dir)
  make = lambda split, s: examples_lib.create_examples(
      _documents(builder, split), max_seq_length=config.max_seq_length,
      pair_objective=config.pair_objective, cls_id=tok.cls_id, sep_id=tok.sep_id, seed=s,
      short_seq_prob=config.short_seq_prob, packing=bool(config.packing))
  train, evals = make("train", seed), make("eval", seed + 1)
  for store in (train, evals):
    tokenizer_lib.check_token_ids(store.ids, tok.vocab_size)
  masker = masking_lib.Masker(
      tok.vocab_size, tok.special_ids | {tok.unk_id}, tok.mask_id, tok.is_continuation,
      mask_prob=config.mask_prob, max_predictions=config.max_predictions_per_seq,
      whole_word=bool(config.whole_word_masking), ngram_max=int(config.get("ngram_max", 1)))
  return PretrainingData(config=config, seed=seed, tokenizer=tok, train_examples=train,
                         eval_examples=evals, masker=masker, dataset_dir=builder.data_dir,
                         tokenizer_dir=tok_dir)
