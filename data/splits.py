"""The train/dev split the extraction scripts share, and how their files are written.

A row goes to dev when its text's SHA-256, read as an integer, is below `dev_percent`
modulo 100. The rule depends on the text alone: not on row order, Python's hash seed or
the other rows. So identical texts always share a split (no train/dev leak through
duplicates), and every stratum (VADER's domains, WordNet's lexicographer files) sends
`dev_percent` of its rows to dev in expectation. The scripts print the counts per
stratum to show it.

Files are CSV (RFC 4180 quoting, UTF-8, a header row, "\\n" line ends), rows sorted by
that same hash: a fixed shuffle, so `head` of a file already mixes classes and domains.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import os
from typing import Iterable, Sequence

SPLITS = ("train", "dev")
DEV_PERCENT = 10


def text_hash(text: str) -> int:
  """The 64-bit integer the split and the row order are read from."""
  return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def split_of(text: str, dev_percent: int = DEV_PERCENT) -> str:
  """"dev" for about `dev_percent` in 100 texts, "train" for the others."""
  return "dev" if text_hash(text) % 100 < dev_percent else "train"


def by_hash(rows: Iterable[dict]) -> list[dict]:
  """Rows in their fixed shuffled order: by the hash of "text", ties by the text."""
  return sorted(rows, key=lambda row: (text_hash(row["text"]), row["text"]))


def write_csv(path: str, columns: Sequence[str], rows: Iterable[dict]) -> int:
  """Writes `columns` of each row to `path` (header first); returns the number of rows."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  n = 0
  with open(path, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
      writer.writerow([row[c] for c in columns])
      n += 1
  return n


def write_task(out: str, name: str, columns: Sequence[str], rows: Sequence[dict],
               dev_percent: int = DEV_PERCENT) -> dict[str, list[dict]]:
  """Writes out/name/{train,dev}.csv; returns the rows of each split."""
  splits = {s: [] for s in SPLITS}
  for row in by_hash(rows):
    splits[split_of(row["text"], dev_percent)].append(row)
  for split, split_rows in splits.items():
    write_csv(os.path.join(out, name, f"{split}.csv"), columns, split_rows)
  return splits


def slice_rows(rows: Iterable[dict], key: str, per_value: int) -> list[dict]:
  """The first `per_value` rows (in hash order) of each value of `key`: a balanced sample."""
  taken = collections.Counter()
  picked = []
  for row in by_hash(rows):
    if taken[row[key]] < per_value:
      taken[row[key]] += 1
      picked.append(row)
  return picked


def count_table(splits: dict[str, list[dict]], key: str) -> str:
  """One line per value of `key`: its count in each split and its share of train."""
  counts = {s: collections.Counter(row[key] for row in rows) for s, rows in splits.items()}
  values = sorted(set().union(*counts.values()))
  width = max([len(key)] + [len(str(v)) for v in values])
  lines = [f"  {key:<{width}} {'train':>7} {'dev':>6} {'dev%':>5} {'share':>6}"]
  total_train = max(1, sum(counts["train"].values()))
  for v in values + ["(all)"]:
    train = sum(counts["train"].values()) if v == "(all)" else counts["train"][v]
    dev = sum(counts["dev"].values()) if v == "(all)" else counts["dev"][v]
    lines.append(f"  {v:<{width}} {train:>7,} {dev:>6,} {100 * dev / max(1, train + dev):>5.1f}"
                 f" {100 * train / total_train:>5.1f}%")
  return "\n".join(lines)
