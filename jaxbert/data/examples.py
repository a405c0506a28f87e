"""Pretraining examples from tokenised documents (Devlin et al. 2019; Lan et al. 2020).

Follows the procedure of BERT's create_pretraining_data.py, described in the
paper's appendix A.2 (our own code):

  - walk each document's sentences, gathering a chunk until it reaches a target
    length: max_seq_length - 3 (room for [CLS] A [SEP] B [SEP]), or with
    probability short_seq_prob a random shorter length in [2, max_seq_length - 3];
  - segment A is the chunk's first 1..k-1 sentences (a random cut), B the rest;
  - "nsp" (BERT): with probability 1/2 (always for a one-sentence chunk) B is
    replaced by a random span of another document, label 1 (NotNext), and the
    unused sentences are put back; else B is the true continuation, label 0
    (Hugging Face's convention: 0 = IsNext);
  - "sop" (ALBERT, Lan et al. 2020 section 4.1): A and B are consecutive; with
    probability 1/2 they are swapped, label 1; else label 0. A one-sentence chunk
    is cut inside the sentence;
  - the longer segment is trimmed one token at a time, from the front or the back
    at random, until A + B fit;
  - "none" (DistilBERT, RoBERTa): single segments [CLS] x [SEP] of up to
    max_seq_length - 2 tokens of consecutive sentences, no pair label;
    packing=True then fills rows with several such sequences (first fit decreasing).

`create_examples` is deterministic in `seed` (an int or a sequence of ints). The
preparation (preparation.py) calls it `data.dupe_factor` times per shard with different
seeds, as BERT's `dupe_factor`, and the loader reads copy e mod D in epoch e, so
consecutive epochs see differently drawn pairs and cuts; masking is dynamic on top.
"""

from __future__ import annotations

import dataclasses

import numpy as np

Sentence = np.ndarray   # int32 [T] token ids
Document = list         # list[Sentence]


@dataclasses.dataclass
class ExampleStore:
  """N examples with their special tokens, concatenated (T = total length).

  ids     int32 [T]    [CLS] A [SEP] B [SEP] (or packed [CLS] x [SEP] ...)
  types   int8  [T]    token type: 0 up to the first [SEP], 1 after
  segs    int8  [T]    packed sequence number 1..n in its row (None without packing)
  offsets int64 [N+1]  example i is ids[offsets[i]:offsets[i+1]]
  labels  int32 [N]    sentence-pair label (0 for "none")
  """
  ids: np.ndarray
  types: np.ndarray
  segs: np.ndarray | None
  offsets: np.ndarray
  labels: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def example(self, i: int) -> dict[str, np.ndarray]:
    s = slice(self.offsets[i], self.offsets[i + 1])
    return {"ids": self.ids[s], "types": self.types[s], "label": self.labels[i],
            "segs": None if self.segs is None else self.segs[s]}


class _Draws:
  """Uniform draws from a numpy Generator, fetched 4096 at a time: a scalar numpy call per
  draw costs more than the rest of the per-sentence loop."""

  def __init__(self, rng: np.random.Generator):
    self.rng, self.buf, self.i = rng, [], 0

  def random(self) -> float:
    if self.i == len(self.buf):
      self.buf, self.i = self.rng.random(4096).tolist(), 0
    self.i += 1
    return self.buf[self.i - 1]

  def integers(self, low: int, high: int | None = None) -> int:
    """An integer in [low, high), or in [0, low) without high."""
    low, high = (0, low) if high is None else (low, high)
    return low + min(int(self.random() * (high - low)), high - low - 1)

  def binomial(self, n: int, p: float) -> int:
    return int(self.rng.binomial(n, p)) if n else 0


def _trim(a: np.ndarray, b: np.ndarray, max_tokens: int, rng) -> tuple[np.ndarray, np.ndarray]:
  """Trims the longer of a, b one token at a time (front or back at random) to fit.

  Counted in closed form: the longer segment loses tokens until both are equal, then
  they alternate (b first on a tie); each removed token is from the front with
  probability 1/2, so a segment losing k tokens loses Binomial(k, 1/2) at its front.
  """
  excess = len(a) + len(b) - max_tokens
  if excess <= 0:
    return a, b
  lead = min(excess, abs(len(a) - len(b)))
  rest = excess - lead
  ka = (lead if len(a) > len(b) else 0) + rest // 2
  kb = (lead if len(a) <= len(b) else 0) + rest - rest // 2
  fa, fb = int(rng.binomial(ka, 0.5)), int(rng.binomial(kb, 0.5))
  return a[fa:len(a) - (ka - fa)], b[fb:len(b) - (kb - fb)]


def _pair_examples(docs: list[Document], d: int, max_tokens: int, objective: str,
                   short_seq_prob: float, rng):
  """Yields (A, B, label) from document d (the BERT / ALBERT procedure above)."""
  doc = docs[d]
  target = max_tokens
  if rng.random() < short_seq_prob:
    target = int(rng.integers(2, max_tokens + 1))
  chunk, length, i = [], 0, 0
  while i < len(doc):
    chunk.append(doc[i])
    length += len(doc[i])
    if i == len(doc) - 1 or length >= target:
      a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
      a = np.concatenate(chunk[:a_end])
      label = 0
      if objective == "nsp" and (len(chunk) == 1 or rng.random() < 0.5):
        label = 1
        other = d
        for _ in range(10):
          other = int(rng.integers(len(docs)))
          if other != d:
            break
        rdoc = docs[other]
        start, b_parts, b_len = int(rng.integers(len(rdoc))), [], 0
        for s in rdoc[start:]:
          b_parts.append(s)
          b_len += len(s)
          if b_len >= target - len(a):
            break
        b = np.concatenate(b_parts)
        i -= len(chunk) - a_end  # put the unused sentences back
      elif len(chunk) >= 2:
        b = np.concatenate(chunk[a_end:])
      elif objective == "sop" and len(a) >= 2:  # one sentence: cut inside it
        cut = int(rng.integers(1, len(a)))
        a, b = a[:cut], a[cut:]
      else:
        b = a[:0]
      if objective == "sop" and rng.random() < 0.5:
        a, b, label = b, a, 1
      a, b = _trim(a, b, max_tokens, rng)
      if len(a) and len(b):
        yield a, b, label
      chunk, length = [], 0
    i += 1


def _single_examples(doc: Document, max_tokens: int):
  """Yields consecutive sentences of doc in pieces of at most max_tokens tokens."""
  flat = np.concatenate(doc)
  ends = np.cumsum([len(s) for s in doc])
  start = 0
  while start < len(flat):
    # The last sentence end that fits, or a hard cut inside an over-long sentence.
    fit = ends[(ends > start) & (ends <= start + max_tokens)]
    stop = int(fit[-1]) if len(fit) else min(start + max_tokens, len(flat))
    yield flat[start:stop]
    start = stop


def _pack(rows: list[np.ndarray], max_len: int) -> list[list[np.ndarray]]:
  """First fit decreasing of sequences into rows of max_len tokens (full ones alone)."""
  order = sorted(range(len(rows)), key=lambda j: -len(rows[j]))
  bins, room = [], []
  for j in order:
    n = len(rows[j])
    k = next((k for k in range(max(0, len(bins) - 64), len(bins)) if room[k] >= n), None)
    if k is None:
      bins.append([rows[j]])
      room.append(max_len - n)
    else:
      bins[k].append(rows[j])
      room[k] -= n
  return bins


def create_examples(docs: list[Document], *, max_seq_length: int, pair_objective: str,
                    cls_id: int, sep_id: int, seed, short_seq_prob: float = 0.1,
                    packing: bool = False, allow_empty: bool = False) -> ExampleStore:
  """All examples of `docs` (lists of int32 sentences), deterministic from `seed` (an int
  or ints). No example is a ValueError unless `allow_empty` (one shard of many)."""
  if pair_objective not in ("nsp", "sop", "none"):
    raise ValueError(f"data.pair_objective must be 'nsp', 'sop' or 'none' (got {pair_objective!r})")
  if packing and pair_objective != "none":
    raise ValueError("data.packing=True needs data.pair_objective='none'")
  docs = [[np.asarray(s, np.int32) for s in doc if len(s)] for doc in docs]
  docs = [doc for doc in docs if doc]
  cls, sep = np.array([cls_id], np.int32), np.array([sep_id], np.int32)
  rng = _Draws(np.random.default_rng([*np.atleast_1d(seed).tolist(), 0xE8A]))
  ids, types, segs, labels = [], [], [], []
  if pair_objective == "none":
    seqs = [np.concatenate([cls, x, sep]) for doc in docs
            for x in _single_examples(doc, max_seq_length - 2)]
    rows = _pack(seqs, max_seq_length) if packing else [[s] for s in seqs]
    for row in rows:
      ids.append(np.concatenate(row))
      types.append(np.zeros(len(ids[-1]), np.int8))
      segs.append(np.concatenate([np.full(len(s), k + 1, np.int8) for k, s in enumerate(row)]))
      labels.append(0)
  else:
    for d in range(len(docs)):
      for a, b, label in _pair_examples(docs, d, max_seq_length - 3, pair_objective,
                                        short_seq_prob, rng):
        ids.append(np.concatenate([cls, a, sep, b, sep]))
        types.append(np.concatenate([np.zeros(len(a) + 2, np.int8), np.ones(len(b) + 1, np.int8)]))
        labels.append(label)
  if not ids and allow_empty:
    e = np.zeros(0, np.int32)
    return ExampleStore(ids=e, types=e.astype(np.int8), segs=e.astype(np.int8) if packing else None,
                        offsets=np.zeros(1, np.int64), labels=e)
  if not ids:
    raise ValueError(f"no {pair_objective!r} examples: the documents are too short to make "
                     "a sentence pair (each needs two tokens at least)")
  offsets = np.concatenate([[0], np.cumsum([len(x) for x in ids])]).astype(np.int64)
  return ExampleStore(ids=np.concatenate(ids), types=np.concatenate(types),
                      segs=np.concatenate(segs) if packing else None, offsets=offsets,
                      labels=np.array(labels, np.int32))
