"""The grain pipeline and `prepare()`: from a data config to batches, reading shards.

  prepare(config, workdir, seed, writer=True) -> PretrainingData
    finds the prepared data (data.prepared, or the cache data.data_dir/<cache key>),
    prepares it first when absent and `writer` (preparation.py), checks it against the
    run's config, and opens it; training itself only reads.

  train:  range(inf) -> batch(B) -> [shard::S] -> BatchTransform -> prefetch
          the global stream runs over cycles of D epochs (D = data.dupe_factor); epoch e
          reads copy c = e mod D of the examples, N_c of them, in the order of a seeded
          index shuffle of range(N_c) (grain's, no table held); masking keys are
          (seed, e, example), so pairs change from epoch to epoch and masks too.
  eval:   range(M * S) -> batch(B) -> [shard::S] -> BatchTransform; indices >= N are padding
          rows (example_weights 0), M = per-process rows rounded up to a multiple of B.

BatchTransform holds shard paths and small index tables; each process (grain workers
included) opens the files itself. The only iterator state is the position in the
stream, so grain's `get_state()` / `set_state()` (and `grain.checkpoint` through orbax)
resume exactly. See jaxbert/data/__init__.py for the batch contract.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Iterator

import grain
import ml_collections
import numpy as np

from jaxbert.data import masking as masking_lib
from jaxbert.data import preparation
from jaxbert.data import shards as shards_lib
from jaxbert.data import tokenizer as tokenizer_lib

DEFAULT_DATA_DIR = "~/.cache/jaxbert/data"


class BatchTransform(grain.transforms.Map):
  """Stream indices int64 [B] -> one batch dict (module level, so workers can pickle it)."""

  def __init__(self, paths: list[str], counts, dtype: str, masker: masking_lib.Masker, *,
               max_seq_length: int, seed: int, shuffle: bool, packed: bool):
    self.packed = packed
    self.index = shards_lib.ShardIndex(counts)
    self.reader = shards_lib.ShardReader(paths, self.index.counts.sum(1))
    self.dtype, self.masker, self.seed, self.shuffle = dtype, masker, seed, shuffle
    self.length = max_seq_length
    self._orders: dict[int, grain.MapDataset] = {}

  def _order(self, epoch: int, n: int) -> grain.MapDataset:
    """A seeded permutation of range(n) for `epoch`, computed per index (no table)."""
    if epoch not in self._orders:
      if len(self._orders) > 2:
        self._orders.pop(min(self._orders))
      s = int(np.random.SeedSequence([self.seed, epoch, 0x5AFF1E]).generate_state(1)[0])
      self._orders[epoch] = grain.MapDataset.range(n).shuffle(seed=s)
    return self._orders[epoch]

  def map(self, stream: np.ndarray) -> dict[str, np.ndarray]:
    l, sizes = self.length, self.index.sizes                                # sizes [D]
    stream = np.asarray(stream, np.int64)
    if self.shuffle:
      start = np.concatenate([[0], np.cumsum(sizes)])                      # [D + 1]
      cycle, rest = stream // start[-1], stream % start[-1]
      copy = np.searchsorted(start, rest, side="right") - 1
      epoch = cycle * len(sizes) + copy
      example = np.array([self._order(int(e), int(sizes[c]))[int(p)] for e, c, p
                          in zip(epoch, copy, rest - start[copy])], np.int64)
      real = np.ones(len(stream), bool)
    else:  # eval: one pass in order over copy 0, indices past the end are padding rows
      real = stream < sizes[0]
      example, epoch = np.where(real, stream, 0), np.zeros_like(stream)
      copy = np.zeros_like(stream)
    rows = shards_lib.decode(self.reader.read(self.index.record(copy, example)), self.dtype, l)
    valid = np.arange(l) < np.where(real, rows["lengths"], 0)[:, None]     # [B, L]
    ids = np.where(valid, rows["ids"], 0)
    batch = self.masker(ids, masking_lib.example_keys(self.seed, epoch, example))
    batch["attention_mask"] = valid.astype(np.int32)
    batch["token_type_ids"] = np.where(valid, rows["types"], 0)
    batch["sentence_labels"] = np.where(real, rows["labels"], 0).astype(np.int32)
    batch["example_weights"] = real.astype(np.float32)
    if self.packed:
      segs = np.where(valid, rows["segs"], 0)                              # [B, L]
      new = np.ones_like(valid)
      new[:, 1:] = segs[:, 1:] != segs[:, :-1]
      first = np.maximum.accumulate(np.where(new, np.arange(l), 0), axis=1)
      batch["segment_ids"] = segs
      batch["position_ids"] = np.where(valid, np.arange(l) - first, 0).astype(np.int32)
    return batch


@dataclasses.dataclass
class PretrainingData:
  """An opened preparation: tokenizer, masker, metadata, and the batch factories."""
  config: ml_collections.ConfigDict
  seed: int
  tokenizer: tokenizer_lib.Tokenizer
  masker: masking_lib.Masker
  metadata: dict
  dataset_dir: str = ""    # the prepared data: shards, metadata.json, tokenizer
  tokenizer_dir: str = ""  # where tokenizer.json (and vocab.txt for WordPiece) is

  @property
  def vocab_size(self) -> int:
    return self.tokenizer.vocab_size

  @property
  def examples_per_epoch(self) -> list[int]:
    """Training examples of each copy: epoch e has examples_per_epoch[e % D]."""
    return list(self.metadata["examples"]["train"])

  @property
  def num_eval_examples(self) -> int:
    return int(self.metadata["examples"]["eval"])

  def _transform(self, split: str, shuffle: bool) -> BatchTransform:
    shards = self.metadata["shards"][split]
    return BatchTransform([os.path.join(self.dataset_dir, s["file"]) for s in shards],
                          [s["copies"] for s in shards], self.metadata["id_dtype"], self.masker,
                          max_seq_length=self.config.max_seq_length, seed=self.seed,
                          shuffle=shuffle, packed=bool(self.config.packing))

  def _check(self, batch_size: int, shard_index: int, shard_count: int):
    if batch_size < 1 or not 0 <= shard_index < shard_count:
      raise ValueError(f"need batch_size >= 1 and 0 <= shard_index < shard_count "
                       f"(got {batch_size}, {shard_index}, {shard_count})")

  def train_dataset(self, batch_size: int, *, shard_index: int = 0,
                    shard_count: int = 1) -> grain.IterDataset:
    """Infinite per-process batches of `batch_size` (B), as a grain IterDataset."""
    self._check(batch_size, shard_index, shard_count)
    # Process s takes rows [s*B, (s+1)*B) of every global batch of S*B stream rows, so
    # a global batch's rows, and the rows each device gets, do not depend on S.
    ds = grain.MapDataset.range(2**62).batch(batch_size, drop_remainder=True)
    ds = ds[shard_index::shard_count].map(self._transform("train", True))
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
    return math.ceil(math.ceil(self.num_eval_examples / shard_count) / batch_size)

  def eval_dataset(self, batch_size: int, *, shard_index: int = 0,
                   shard_count: int = 1) -> grain.MapDataset:
    """One finite pass over the held-out examples, padded to whole batches."""
    self._check(batch_size, shard_index, shard_count)
    rows = self.num_eval_batches(batch_size, shard_count) * batch_size
    ds = grain.MapDataset.range(rows * shard_count).batch(batch_size)   # blocks, as in train
    return ds[shard_index::shard_count].map(self._transform("eval", False))

  def eval_batches(self, batch_size: int, *, shard_index: int = 0,
                   shard_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
    ds = self.eval_dataset(batch_size, shard_index=shard_index, shard_count=shard_count)
    return (ds[i] for i in range(len(ds)))


def check_prepared(meta: dict, config, seed: int, directory: str) -> None:
  """ValueError unless `directory` was prepared with the run's data config and seed."""
  want = preparation.prepared_config(config, seed)
  have = meta["data_config"]
  diff = [f"{k}: prepared {have.get(k)!r}, the run has {want[k]!r}" for k in want
          if k not in preparation.STORAGE_KEYS and have.get(k) != want[k]]
  if diff:
    raise ValueError(f"prepared data {directory!r} does not match the run's data config ("
                     + "; ".join(diff) + "); prepare it with the run's config")


def find_prepared(config, seed: int) -> str:
  """The directory of the run's preparation: data.prepared, or its place in the cache."""
  if config.get("prepared", ""):
    return os.path.expanduser(config.prepared)
  root = os.path.expanduser(config.get("data_dir", "") or DEFAULT_DATA_DIR)
  return os.path.join(root, preparation.cache_key(config, seed))


def prepare(config: ml_collections.ConfigDict, workdir: str, seed: int = 0, *,
            writer: bool = True, log=print) -> PretrainingData:
  """Opens the run's prepared data (default_data_config()), preparing it first if absent.

  `config.seed` >= 0 overrides `seed`. With writer=True the preparation may be written
  (into the cache under data.data_dir) and workdir gets tokenizer.json (and vocab.txt);
  with writer=False nothing is written: the data must have been prepared (by the
  writing process), else ValueError. Raises ValueError (a missing, empty or unusable
  corpus, a bad vocabulary, data prepared with another config or tokenizer) or
  OSError (a missing or truncated shard), each with one message.
  """
  seed = int(config.seed) if config.get("seed", -1) >= 0 else int(seed)
  directory = find_prepared(config, seed)
  if not os.path.exists(os.path.join(directory, shards_lib.METADATA)):
    if config.get("prepared", "") or not writer:
      who = "" if writer else " (the writing process prepares it before the others read)"
      raise ValueError(f"no prepared data in {directory!r}{who}; run python -m "
                       "train.prepare_data with the run's config")
    preparation.prepare_corpus(config, directory, seed, log=log)
  meta = shards_lib.read_metadata(directory)
  check_prepared(meta, config, seed, directory)
  shards_lib.check_shards(directory, meta)
  tok = tokenizer_lib.load_tokenizer(directory, bool(config.lowercase))
  if tok.fingerprint() != meta["tokenizer"]["fingerprint"]:
    raise ValueError(f"prepared data {directory!r}: its tokenizer files changed after "
                     "preparation; prepare it again")
  saved = any(os.path.exists(os.path.join(workdir, f)) for f in ("tokenizer.json", "vocab.txt"))
  if saved and (tokenizer_lib.load_tokenizer(workdir, bool(config.lowercase))
                .fingerprint() != tok.fingerprint()):
    raise ValueError(f"workdir {workdir!r} holds a different vocabulary than the prepared "
                     f"data {directory!r}; use a fresh workdir, or "
                     f"--config.data.tokenizer_dir={workdir} to keep that vocabulary")
  if writer:
    os.makedirs(workdir, exist_ok=True)
    if not saved:
      tok.save(workdir)
  smoothing = float(config.get("mlm_smoothing", 0.0))
  counts = None
  if smoothing:   # DistilBERT's masking by frequency: the training text's id counts
    path = os.path.join(directory, "token_counts.npy")
    if not os.path.exists(path):
      raise ValueError(f"prepared data {directory!r} has no token_counts.npy, which "
                       "data.mlm_smoothing needs; prepare it again")
    counts = np.load(path)
  masker = masking_lib.Masker(
      tok.vocab_size, tok.special_ids | {tok.unk_id}, tok.mask_id, tok.is_continuation,
      mask_prob=config.mask_prob, max_predictions=config.max_predictions_per_seq,
      whole_word=bool(config.whole_word_masking), ngram_max=int(config.get("ngram_max", 1)),
      token_counts=counts, mlm_smoothing=smoothing)
  return PretrainingData(config=config, seed=seed, tokenizer=tok, masker=masker, metadata=meta,
                         dataset_dir=directory, tokenizer_dir=directory)
