"""Fine-tuning batches: one example per row, or several packed into each row.

Fine-tuning texts are short (often 10-40 tokens): padded one per row of L = 128, most
of a batch is padding. Packed, a row holds up to S examples back to back, each with
its own segment id (attention stays inside it: jaxbert/models/layers.py) and its own
positions restarting at 0, so each example is encoded exactly as it would be alone;
the classifier reads every example's first token ([CLS]) at `first_positions`.

  data = LabelledData(train, dev, space, max_length=128, max_segments=8, pack=True,
                      token_types=True, seed=0)
  it = data.train_iterator(B, shard_index=s, shard_count=n)   # infinite; get/set_state
  for batch in data.eval_batches(B, shard_index=s, shard_count=n): ...

Training epoch e shuffles the examples (seeded by (seed, e)) and packs them in that
order by first fit over W open rows: each example goes into the first open row with
room (tokens <= L, examples <= S); when none has room, the fullest open row is closed
and a new one opened. W = 1 is next fit (88% of VADER's tokens real); W = 8, the
fine-tuning recipe's data.open_rows, 98%, so an epoch has 11% fewer rows. The rows of successive epochs form one
stream: process s of n takes rows [(k n + s) B, (k n + s + 1) B) as its k-th batch,
so the global batch's rows do not depend on n, and the iterator's state is k
("next_index", as the pretraining loader's). Dev rows are packed in file order, padded
to whole global batches with empty rows.

The batch (B rows, L tokens, S = max_segments packed, 1 unpacked):

  input_ids        int32   [B, L]  padding 0
  attention_mask   int32   [B, L]  1 on real tokens
  token_type_ids   int32   [B, L]  0 first text, 1 pair (only for models with token types)
  first_positions  int32   [B, S]  where each example starts (0 on empty slots)
  labels           int32   [B, S]  class ids, or float32 scores (regression)
  label_weights    float32 [B, S]  1 real example, 0 empty slot or padding row
  and packed:
  segment_ids      int32   [B, L]  1..S per example of the row, 0 on padding
  position_ids     int32   [B, L]  restarting at 0 at each example
"""

from __future__ import annotations

import numpy as np

from jaxbert.data.labelled import Encoded, LabelSpace


def pack(lengths: np.ndarray, order: np.ndarray, max_length: int, max_segments: int,
         open_rows: int = 1) -> list[np.ndarray]:
  """Rows of example indices, each of at most max_length tokens and max_segments
  examples: `order`'s examples by first fit over `open_rows` open rows (1: next fit).
  Rows come out as they are closed, then the open ones in the order they were opened;
  within a row, examples keep `order`'s order."""
  rows: list[list[int]] = []     # the open rows
  used: list[int] = []           # their tokens
  done: list[list[int]] = []
  for e in order.tolist():
    n = int(lengths[e])
    k = next((k for k, row in enumerate(rows)
              if used[k] + n <= max_length and len(row) < max_segments), None)
    if k is None:
      if len(rows) == open_rows:
        j = int(np.argmax(used))           # the fullest row is closed
        done.append(rows.pop(j))
        used.pop(j)
      rows.append([])
      used.append(0)
      k = len(rows) - 1
    rows[k].append(e)
    used[k] += n
    if used[k] == max_length or len(rows[k]) == max_segments:   # full: closed now
      done.append(rows.pop(k))
      used.pop(k)
  return [np.array(r, np.int64) for r in done + rows]


def make_batch(data: Encoded, rows: list[np.ndarray], max_length: int, segments: int,
               packed: bool, token_types: bool) -> dict[str, np.ndarray]:
  """The batch of `rows` (lists of example indices; empty rows are padding)."""
  b, l = len(rows), max_length
  ids, types = np.zeros((b, l), np.int32), np.zeros((b, l), np.int32)
  seg, pos = np.zeros((b, l), np.int32), np.zeros((b, l), np.int32)
  first = np.zeros((b, segments), np.int32)
  labels = np.zeros((b, segments), data.labels.dtype)
  weights = np.zeros((b, segments), np.float32)
  for r, row in enumerate(rows):
    at = 0
    for s, e in enumerate(row):
      lo, hi = data.offsets[e], data.offsets[e + 1]
      n = hi - lo
      ids[r, at:at + n], types[r, at:at + n] = data.tokens[lo:hi], data.types[lo:hi]
      seg[r, at:at + n], pos[r, at:at + n] = s + 1, np.arange(n)
      first[r, s], labels[r, s], weights[r, s] = at, data.labels[e], 1.0
      at += n
  batch = {"input_ids": ids, "attention_mask": (seg > 0).astype(np.int32),
           "first_positions": first, "labels": labels, "label_weights": weights}
  if token_types:
    batch["token_type_ids"] = types
  if packed:
    batch["segment_ids"], batch["position_ids"] = seg, pos
  return batch


class TrainIterator:
  """Infinite training batches of one process (see the module docstring)."""

  def __init__(self, data: "LabelledData", batch_size: int, shard_index: int,
               shard_count: int):
    self.data, self.batch_size = data, batch_size
    self.shard_index, self.shard_count = shard_index, shard_count
    self.next_index = 0
    self._epochs: dict[int, list[np.ndarray]] = {}
    self._starts = [0]              # first stream row of each epoch computed so far

  def _rows(self, epoch: int) -> list[np.ndarray]:
    if epoch not in self._epochs:
      if len(self._epochs) > 1:
        self._epochs.pop(min(self._epochs))
      self._epochs[epoch] = self.data.epoch_rows(epoch)
    return self._epochs[epoch]

  def _row(self, index: int) -> np.ndarray:
    """Row `index` of the stream of every epoch's rows."""
    while self._starts[-1] <= index:
      self._starts.append(self._starts[-1] + len(self._rows(len(self._starts) - 1)))
    epoch = int(np.searchsorted(self._starts, index, side="right")) - 1
    return self._rows(epoch)[index - self._starts[epoch]]

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    first = (self.next_index * self.shard_count + self.shard_index) * self.batch_size
    self.next_index += 1
    rows = [self._row(first + i) for i in range(self.batch_size)]
    return self.data.batch(self.data.train, rows)

  def get_state(self) -> dict:
    return {"next_index": self.next_index}

  def set_state(self, state: dict) -> None:
    self.next_index = int(state["next_index"])


class LabelledData:
  """Encoded train and dev examples with their label space, as batches."""

  def __init__(self, train: Encoded, dev: Encoded, space: LabelSpace, *, max_length: int,
               max_segments: int, pack: bool, token_types: bool, seed: int,
               open_rows: int = 1):
    if pack and max_segments < 1:
      raise ValueError(f"data.max_segments must be >= 1 (got {max_segments})")
    self.train, self.dev, self.space = train, dev, space
    self.max_length, self.pack, self.token_types, self.seed = max_length, pack, token_types, seed
    self.segments = max_segments if pack else 1
    self.open_rows = open_rows if pack else 1

  def _pack(self, data: Encoded, order: np.ndarray) -> list[np.ndarray]:
    return pack(data.lengths, order, self.max_length, self.segments, self.open_rows)

  def epoch_rows(self, epoch: int) -> list[np.ndarray]:
    """Training epoch `epoch`'s rows: the examples shuffled by (seed, epoch), packed."""
    order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train))
    return self._pack(self.train, order)

  def batch(self, data: Encoded, rows: list[np.ndarray]) -> dict[str, np.ndarray]:
    return make_batch(data, rows, self.max_length, self.segments, self.pack, self.token_types)

  def train_iterator(self, batch_size: int, *, shard_index: int = 0,
                     shard_count: int = 1) -> TrainIterator:
    return TrainIterator(self, batch_size, shard_index, shard_count)

  def dev_rows(self) -> list[np.ndarray]:
    return self._pack(self.dev, np.arange(len(self.dev)))

  def eval_batches(self, batch_size: int, *, shard_index: int = 0, shard_count: int = 1):
    """Dev batches of one process: its block of each global batch of dev rows, the
    last padded with empty rows."""
    rows = self.dev_rows()
    global_batch = batch_size * shard_count
    rows += [np.zeros(0, np.int64)] * (-len(rows) % global_batch)
    for start in range(shard_index * batch_size, len(rows), global_batch):
      yield self.batch(self.dev, rows[start:start + batch_size])
