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

Records are written GROUP_SIZE to an array_record chunk. `ShardIndex` maps (copy,
example) to a record number; `ShardReader` reads records by number, opening the files in
the process that reads (it pickles as paths alone, so grain workers open the shards
themselves).
"""

from __future__ import annotations

import json
import os

import numpy as np

FORMAT_VERSION = 1
METADATA = "metadata.json"
_HEADER = 4
# Records per array_record chunk. Its reader keeps ~52 bytes of index per chunk in memory:
# with one record per chunk (grain's advice) a loader held ~0.5 GB per 10M examples, which
# grows with the corpus; measured on 1M records of 300 bytes, 64 per chunk also writes 6x
# faster and reads random records 10x faster (a chunk is read whole, ~20 KB, uncompressed:
# ids do not compress).
GROUP_SIZE = 64


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
  writer = array_record_module.ArrayRecordWriter(path, f"group_size:{GROUP_SIZE},uncompressed")
  sizes = []
  try:
    for store in stores:   # one copy at a time: a generator of stores holds one
      for record in records(store, dtype):
        writer.write(record)
      sizes.append(len(store))
  finally:
    writer.close()
  return sizes


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
  """Random access to the records of shard files, `sizes[s]` records in file s (opened
  lazily, per process: it pickles as paths and sizes, so grain workers open the shards
  themselves). Not grain's ArrayRecordDataSource: that one logs an error for files of
  more than one record per chunk (GROUP_SIZE)."""

  def __init__(self, paths: list[str], sizes):
    self.paths = list(paths)
    self.starts = np.concatenate([[0], np.cumsum(np.asarray(sizes, np.int64))])   # [S+1]
    self._readers = {}

  def __getstate__(self):
    return {"paths": self.paths, "starts": self.starts, "_readers": {}}

  def read(self, records) -> list[bytes]:
    """The records of global numbers `records` (int [B]), in that order."""
    records = np.asarray(records, np.int64)
    shard = np.searchsorted(self.starts, records, side="right") - 1   # [B]
    out = [b""] * len(records)
    for s in np.unique(shard).tolist():
      at = np.flatnonzero(shard == s)
      for k, rec in zip(at.tolist(), self._reader(s).read((records[at] - self.starts[s]).tolist())):
        out[k] = rec
    return out

  def _reader(self, s: int):
    if s not in self._readers:
      from array_record.python import array_record_module  # pylint: disable=import-outside-toplevel
      self._readers[s] = array_record_module.ArrayRecordReader(
          self.paths[s], "readahead_buffer_size:0", file_reader_buffer_size=32768)
    return self._readers[s]


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
