"""A prepared dataset on disk: array_record shards of examples, and metadata.json.

  DIR/metadata.json          what was prepared and how (written last: see preparation.py)
  DIR/tokenizer.json (and vocab.txt for WordPiece)
  DIR/token_counts.npy       int64 [V]: how often each id occurs in the training text
  DIR/train-00000.array_record ...  shard s: copies 0..D-1 of its documents' examples,
                                    copy after copy (D = data.dupe_factor)
  DIR/eval-00000.array_record ...   one copy

One record is one example (L its length n <= max_seq_length):

  int32  [4]  header: sentence label, n, type_split, has_segs
  ids    [n]  uint16 when the vocabulary fits, else int32 (metadata "id_dtype")
  int8   [n]  packed-sequence numbers 1..k, present when has_segs
  token types are 0 before type_split and 1 from there ([CLS] A [SEP] | B [SEP]).

`ShardIndex` maps (copy, example) to a record number; `ShardReader` reads records by
number, opening the files in the process that reads (it pickles as paths alone, so
grain workers open the shards themselves).
"""

from __future__ import annotations

import json
import os

import numpy as np

FORMAT_VERSION = 1
METADATA = "metadata.json"
_HEADER = 4


def id_dtype(vocab_size: int) -> str:
  return "uint16" if vocab_size <= np.iinfo(np.uint16).max + 1 else "int32"


def records(store, dtype: str) -> list[bytes]:
  """The records of an ExampleStore's examples (see the module docstring), in order."""
  n = np.diff(store.offsets)                                               # [N]
  ones = np.concatenate([[0], np.cumsum(store.types, dtype=np.int64)])[store.offsets]
  header = np.stack([store.labels, n, n - np.diff(ones),
                     np.full(len(n), store.segs is not None)], 1).astype(np.int32)  # [N, 4]
  head, ids = header.tobytes(), np.asarray(store.ids).astype(dtype).tobytes()
  h, w, at = 4 * _HEADER, np.dtype(dtype).itemsize, store.offsets.tolist()
  if store.segs is None:
    return [head[h * i:h * (i + 1)] + ids[w * at[i]:w * at[i + 1]] for i in range(len(n))]
  segs = np.asarray(store.segs, np.int8).tobytes()
  return [head[h * i:h * (i + 1)] + ids[w * at[i]:w * at[i + 1]] + segs[at[i]:at[i + 1]]
          for i in range(len(n))]


def decode(records: list[bytes], dtype: str, length: int) -> dict[str, np.ndarray]:
  """Records -> padded arrays: ids int32 [B, L], types int32 [B, L], segs int32 [B, L]
  (zeros when unpacked), labels int32 [B], lengths int64 [B]."""
  b = len(records)
  out = {k: np.zeros((b, length), np.int32) for k in ("ids", "types", "segs")}
  out["labels"], out["lengths"] = np.zeros(b, np.int32), np.zeros(b, np.int64)
  width = np.dtype(dtype).itemsize
  for r, rec in enumerate(records):
    label, n, split, has_segs = np.frombuffer(rec, np.int32, _HEADER)
    ids = np.frombuffer(rec, dtype, n, 4 * _HEADER)
    out["ids"][r, :n] = ids
    out["types"][r, split:n] = 1
    if has_segs:
      out["segs"][r, :n] = np.frombuffer(rec, np.int8, n, 4 * _HEADER + width * n)
    out["labels"][r], out["lengths"][r] = label, n
  return out


def write_shard(path: str, stores, dtype: str) -> list[int]:
  """Writes the examples of `stores` (ExampleStores, one per copy) to one array_record
  file; returns the number of examples of each copy."""
  from array_record.python import array_record_module  # pylint: disable=import-outside-toplevel
  writer = array_record_module.ArrayRecordWriter(path, "group_size:1,uncompressed")  # ids do not compress
  try:
    for store in stores:
      for record in records(store, dtype):
        writer.write(record)
  finally:
    writer.close()
  return [len(s) for s in stores]


class ShardIndex:
  """Where example i of copy c lives: shards hold counts[s, c] examples of copy c."""

  def __init__(self, counts):
    self.counts = np.asarray(counts, np.int64).reshape(len(counts), -1)      # [S, D]
    per_shard = self.counts.sum(1)
    self.shard_start = np.concatenate([[0], np.cumsum(per_shard)])[:-1]     # [S]
    self.copy_base = np.cumsum(self.counts, 1) - self.counts                 # [S, D]
    self.copy_cum = np.concatenate([np.zeros((1, self.counts.shape[1]), np.int64),
                                    np.cumsum(self.counts, 0)]).T           # [D, S+1]
    self.copies = self.counts.shape[1]
    self.sizes = self.copy_cum[:, -1]                                        # [D]

  def record(self, copy: np.ndarray, example: np.ndarray) -> np.ndarray:
    """int64 [B] record numbers of examples [B] of copies [B]."""
    copy, example = np.asarray(copy, np.int64), np.asarray(example, np.int64)
    shard = np.array([np.searchsorted(self.copy_cum[c], i, side="right") - 1
                      for c, i in zip(copy, example)], np.int64)
    return (self.shard_start[shard] + self.copy_base[shard, copy]
            + example - self.copy_cum[copy, shard])


class ShardReader:
  """Random access to the records of a list of shard files (opened lazily, per process)."""

  def __init__(self, paths: list[str]):
    self.paths = list(paths)
    self._source = None

  def __getstate__(self):
    return {"paths": self.paths, "_source": None}

  def read(self, records: np.ndarray) -> list[bytes]:
    if self._source is None:
      import grain  # pylint: disable=import-outside-toplevel
      self._source = grain.sources.ArrayRecordDataSource(self.paths)
    return list(self._source.__getitems__([int(r) for r in records]))


def read_metadata(directory: str) -> dict:
  """metadata.json of a prepared directory; ValueError if absent or unreadable."""
  path = os.path.join(directory, METADATA)
  if not os.path.exists(path):
    raise ValueError(f"{directory!r} holds no prepared data ({METADATA} is missing); "
                     "prepare it with python -m train.prepare_data")
  try:
    with open(path, encoding="utf-8") as f:
      meta = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f"cannot read {path!r}: {e}") from None
  if meta.get("format_version") != FORMAT_VERSION:
    raise ValueError(f"{directory!r} was prepared in format {meta.get('format_version')}, "
                     f"this version reads {FORMAT_VERSION}; prepare it again")
  return meta


def check_shards(directory: str, meta: dict) -> None:
  """Every shard the metadata lists is present with its recorded size (OSError if not)."""
  for split in ("train", "eval"):
    for shard in meta["shards"][split]:
      path = os.path.join(directory, shard["file"])
      if not os.path.exists(path):
        raise OSError(f"prepared data {directory!r}: shard {shard['file']} is missing; "
                      "prepare the data again")
      size = os.path.getsize(path)
      if size != shard["bytes"]:
        raise OSError(f"prepared data {directory!r}: shard {shard['file']} is truncated or "
                      f"changed ({size} bytes, {shard['bytes']} written); prepare the data again")
