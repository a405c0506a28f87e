"""Labelled texts for fine-tuning: files -> examples -> labels -> token ids.

  examples = read_examples("train.csv", text_column="text", pair_column="",
                           label_column="label")
  space = label_space(examples, task="auto")          # class names, or regression
  encoded = encode(examples, space, tokenizer, max_length=128)

Sources: a CSV (header row, Python's csv quoting), TSV (header row, no quoting, as
GLUE's files) or JSONL (one object per line) file, or `tfds:NAME[:SPLIT]` read from
the TFDS data directory without downloading (GLUE's `tfds:glue/sst2`: its text
features and class names are used when the configured columns are not features).

Labels: a classification's classes are the training labels' distinct values, sorted
(as numbers when all are numbers, so "0" < "1" < "10"; TFDS class labels keep their
dataset order); a dev label train never saw is refused. Regression labels are floats;
task "auto" picks regression when every label is a number and some are not integers.

An example is [CLS] text [SEP] (pair [SEP]), token types 0 then 1; a longer one is cut
to max_length by removing tokens from the end of the longer text, one at a time (the
pair's on ties), as transformers' "longest_first" truncation does.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any

import numpy as np

from jaxbert.data.tokenizer import Tokenizer

TASKS = ("auto", "classification", "regression")
# GLUE in TFDS: its text features (first, pair) and dev split.
GLUE = {"cola": ("sentence", ""), "sst2": ("sentence", ""), "mrpc": ("sentence1", "sentence2"),
        "qqp": ("question1", "question2"), "stsb": ("sentence1", "sentence2"),
        "mnli": ("premise", "hypothesis"), "qnli": ("question", "sentence"),
        "rte": ("sentence1", "sentence2"), "wnli": ("sentence1", "sentence2")}
GLUE_DEV = {"mnli": "validation_matched"}


@dataclasses.dataclass
class Examples:
  texts: list[str]
  pairs: list[str] | None         # None: single texts
  labels: list[Any]               # as read: str (CSV, TSV), JSON values, TFDS ints
  source: str                     # for messages
  class_names: tuple[str, ...] = ()  # TFDS class labels: name of label i


@dataclasses.dataclass(frozen=True)
class LabelSpace:
  names: tuple[str, ...]          # class names, id = index; () for regression

  @property
  def regression(self) -> bool:
    return not self.names

  @property
  def num_labels(self) -> int:
    return len(self.names) or 1


@dataclasses.dataclass
class Encoded:
  """Examples as token ids: example i is tokens[offsets[i]:offsets[i + 1]]."""
  tokens: np.ndarray              # int32 [T]
  types: np.ndarray               # int32 [T]
  offsets: np.ndarray             # int64 [N + 1]
  labels: np.ndarray              # int32 [N] class ids, or float32 [N] scores
  truncated: int                  # examples cut to max_length

  def __len__(self) -> int:
    return len(self.offsets) - 1

  @property
  def lengths(self) -> np.ndarray:
    return np.diff(self.offsets)


# --------------------------------------------------------------------------- reading

def _rows(path: str) -> tuple[list[str] | None, list[dict]]:
  """(columns or None for JSONL, rows) of a local file."""
  if not os.path.isfile(path):
    raise ValueError(f"data file {path!r} does not exist")
  ext = os.path.splitext(path)[1].lower()
  with open(path, encoding="utf-8", newline="") as f:
    if ext in (".jsonl", ".json"):
      rows = []
      for n, line in enumerate(f, 1):
        if line.strip():
          try:
            rows.append(json.loads(line))
          except json.JSONDecodeError as e:
            raise ValueError(f"{path} line {n}: not a JSON object ({e})") from None
      if any(not isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: every line must be a JSON object")
      return None, rows
    if ext not in (".csv", ".tsv"):
      raise ValueError(f"data file {path!r}: expected .csv, .tsv or .jsonl")
    tsv = ext == ".tsv"
    reader = csv.DictReader(f, delimiter="\t" if tsv else ",",
                            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
    return list(reader.fieldnames or []), list(reader)


def _tfds_rows(spec: str, split: str, data_dir: str,
               label_column: str) -> tuple[list[str], list[dict], tuple]:
  """(features, rows, class names of `label_column`) of a TFDS dataset already in the
  data directory."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    source = tfds.data_source(spec, split=split, data_dir=data_dir or None, download=False)
  except Exception as e:  # not prepared, unknown name or split: one clear message
    raise ValueError(f"tfds:{spec} split {split!r} is not in the TFDS data directory "
                     f"({data_dir or 'default'}): {type(e).__name__}: "
                     f"{str(e).splitlines()[0] if str(e) else ''}") from None
  rows = [source[i] for i in range(len(source))]
  features = source.dataset_info.features if source.dataset_info else {}
  label = features[label_column] if label_column in features.keys() else None
  names = tuple(getattr(label, "names", None) or ())
  decode = lambda v: v.decode("utf-8") if isinstance(v, bytes) else v
  rows = [{k: decode(v) for k, v in r.items()} for r in rows]
  return sorted(rows[0]) if rows else [], rows, names


def parse_tfds(spec: str, default_split: str) -> tuple[str, str]:
  """"tfds:NAME[:SPLIT]" -> (NAME, SPLIT)."""
  parts = spec.split(":")
  if len(parts) not in (2, 3) or not parts[1]:
    raise ValueError(f"{spec!r}: expected tfds:NAME or tfds:NAME:SPLIT")
  return parts[1], parts[2] if len(parts) == 3 and parts[2] else default_split


def read_examples(spec: str, *, text_column: str, pair_column: str, label_column: str,
                  split: str = "train", tfds_data_dir: str = "") -> Examples:
  """The labelled examples of a file or `tfds:NAME[:SPLIT]` (`split`: the default
  split). ValueError for a missing file, column or value, or no examples."""
  names: tuple = ()
  if spec.startswith("tfds:"):
    name, split = parse_tfds(spec, split)
    columns, rows, names = _tfds_rows(name, split, tfds_data_dir, label_column)
    glue = GLUE.get(name.split("/")[-1]) if name.startswith("glue/") else None
    if glue and text_column not in columns:
      text_column, pair_column = glue
    source = f"tfds:{name}:{split}"
  else:
    columns, rows = _rows(spec)
    source = spec
  if not rows:
    raise ValueError(f"{source} has no examples (an empty file?)")
  if columns is None:   # JSONL: the keys of the first object
    columns = list(rows[0])
  wanted = {"data.text_column": text_column, "data.label_column": label_column}
  if pair_column:
    wanted["data.pair_column"] = pair_column
  for key, column in wanted.items():
    if column not in columns:
      what = ("the second text of a pair task: this data holds single texts?"
              if key == "data.pair_column" else "")
      raise ValueError(f"{source} has no column {column!r} (columns: {', '.join(columns)}); "
                       f"set --config.{key}" + (f" ({what})" if what else ""))
  for n, row in enumerate(rows, 1):
    for key, column in wanted.items():
      value = row.get(column)
      if value is None or (key == "data.label_column" and value == ""):
        raise ValueError(f"{source} example {n} has no {column!r} value"
                         + (" (a pair task given a single text)"
                            if key == "data.pair_column" else ""))
  return Examples(texts=[str(r[text_column]) for r in rows],
                  pairs=[str(r[pair_column]) for r in rows] if pair_column else None,
                  labels=[r[label_column] for r in rows], source=source, class_names=names)


# --------------------------------------------------------------------------- labels

def _number(value: Any) -> float | None:
  if isinstance(value, bool):
    return None
  try:
    return float(value)
  except (TypeError, ValueError):
    return None


def _key(value: Any) -> str:
  return value if isinstance(value, str) else json.dumps(value)


def label_space(train: Examples, task: str = "auto") -> LabelSpace:
  """The classes of the training labels (sorted; numerically when all are numbers),
  or regression (task "regression", or "auto" with a non-integer number)."""
  if task not in TASKS:
    raise ValueError(f"data.task must be one of {TASKS} (got {task!r})")
  numbers = [_number(v) for v in train.labels]
  all_numbers = all(x is not None for x in numbers)
  if task == "regression" or (task == "auto" and not train.class_names and all_numbers
                              and any(x != int(x) for x in numbers)):
    if not all_numbers:
      bad = next(v for v, x in zip(train.labels, numbers) if x is None)
      raise ValueError(f"{train.source}: regression labels must be numbers, got {bad!r}")
    return LabelSpace(())
  if train.class_names:
    return LabelSpace(tuple(train.class_names))
  keys = sorted({_key(v) for v in train.labels},
                key=(lambda k: (float(k), k)) if all_numbers else None)
  if len(keys) < 2:
    raise ValueError(f"{train.source}: every label is {keys[0]!r}; classification needs "
                     "at least two classes")
  return LabelSpace(tuple(keys))


def label_ids(examples: Examples, space: LabelSpace) -> np.ndarray:
  """int32 class ids [N] (float32 scores [N] for regression); ValueError naming labels
  that are not classes of the training set."""
  if space.regression:
    scores = [_number(v) for v in examples.labels]
    if any(x is None for x in scores):
      bad = next(v for v, x in zip(examples.labels, scores) if x is None)
      raise ValueError(f"{examples.source}: regression labels must be numbers, got {bad!r}")
    return np.asarray(scores, np.float32)
  if examples.class_names:
    keys = [examples.class_names[int(v)] if 0 <= int(v) < len(examples.class_names) else
            _key(v) for v in examples.labels]
  else:
    keys = [_key(v) for v in examples.labels]
  index = {name: i for i, name in enumerate(space.names)}
  unseen = sorted({k for k in keys if k not in index})
  if unseen:
    count = sum(k not in index for k in keys)
    raise ValueError(f"{examples.source} has labels the training data never has: "
                     f"{', '.join(map(repr, unseen[:10]))} ({count} examples); the training "
                     f"labels are {', '.join(map(repr, space.names))}")
  return np.asarray([index[k] for k in keys], np.int32)


# --------------------------------------------------------------------------- tokens

def truncated_lengths(a: np.ndarray, b: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
  """Lengths [N] of the two texts after longest-first truncation to `budget` tokens:
  one token at a time from the longer text, from the pair (b) on ties."""
  excess = np.maximum(a + b - budget, 0)
  only_a = a - excess >= b                 # a alone gives up the excess
  only_b = ~only_a & (b - excess >= a - 1)
  na = np.where(only_a, a - excess, np.where(only_b, a, (budget + 1) // 2))
  nb = np.where(only_a, b, np.where(only_b, b - excess, budget // 2))
  return na, nb


def encode(examples: Examples, space: LabelSpace, tokenizer: Tokenizer,
           max_length: int) -> Encoded:
  """[CLS] text [SEP] (pair [SEP]) ids of every example, truncated to max_length."""
  specials = 3 if examples.pairs is not None else 2
  if max_length < specials + 2:
    raise ValueError(f"data.max_seq_length {max_length} is too short (at least {specials + 2})")
  labels = label_ids(examples, space)
  a = tokenizer.encode_batch(examples.texts)
  b = tokenizer.encode_batch(examples.pairs) if examples.pairs is not None else [[]] * len(a)
  la, lb = np.array([len(x) for x in a]), np.array([len(x) for x in b])
  na, nb = truncated_lengths(la, lb, max_length - specials)
  cls, sep = [tokenizer.cls_id], [tokenizer.sep_id]
  tokens, types = [], []
  for x, y, i, j in zip(a, b, na, nb):
    first = cls + x[:i] + sep
    second = y[:j] + sep if examples.pairs is not None else []
    tokens += first + second
    types += [0] * len(first) + [1] * len(second)
  offsets = np.concatenate([[0], np.cumsum(na + nb + specials)]).astype(np.int64)
  return Encoded(tokens=np.asarray(tokens, np.int32), types=np.asarray(types, np.int32),
                 offsets=offsets, labels=labels, truncated=int(((na < la) | (nb < lb)).sum()))
