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

How it runs: the documents are one flat token array (`Documents`), so a segment is a
span of it. Python walks the chunks of each document drawing the cuts, with integer
arithmetic only (`_pair_spans`, `_single_spans`); trimming (its front/back draws
vectorised), and the assembly of [CLS] A [SEP] B [SEP] rows, are numpy operations on
all spans at once.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools

import numpy as np

Sentence = np.ndarray   # int32 [T] token ids (or a list of ints)
Document = list         # list[Sentence]


@dataclasses.dataclass(frozen=True)
class Documents:
  """Tokenised documents, flat: T tokens, S sentences, D documents, none of them empty.

  tokens     int32 [T]    every sentence's ids, document after document
  sentences  int64 [S+1]  sentence s is tokens[sentences[s]:sentences[s+1]]
  documents  int64 [D+1]  document d is sentences documents[d] .. documents[d+1] - 1
  """
  tokens: np.ndarray
  sentences: np.ndarray
  documents: np.ndarray

  @classmethod
  def of(cls, docs: list[Document]) -> Documents:
    """From lists of sentences (int arrays or lists of ints); empty ones are dropped."""
    sents = [s for doc in docs for s in doc]
    lengths = np.array([len(s) for s in sents], np.int64)
    if sents and isinstance(sents[0], np.ndarray):
      tokens = np.concatenate(sents).astype(np.int32)
    else:
      tokens = np.fromiter(itertools.chain.from_iterable(sents), np.int32, int(lengths.sum()))
    return cls.from_flat(tokens, lengths, [len(doc) for doc in docs])

  @classmethod
  def from_flat(cls, tokens: np.ndarray, lengths: np.ndarray, sizes) -> Documents:
    """From all sentences' ids one after another (int32 [T]), each sentence's length
    (int [S]) and each document's number of sentences ([D]); empty ones are dropped."""
    lengths = np.asarray(lengths, np.int64)
    doc = np.repeat(np.arange(len(sizes)), np.asarray(sizes, np.int64))     # [S]
    per_doc = np.bincount(doc[lengths > 0], minlength=len(sizes))            # [D]
    return cls(tokens=np.asarray(tokens, np.int32),
               sentences=np.concatenate([[0], np.cumsum(lengths[lengths > 0])]),
               documents=np.concatenate([[0], np.cumsum(per_doc[per_doc > 0])]))

  def __len__(self) -> int:
    return len(self.documents) - 1


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
  draw costs more than the rest of the per-chunk loop."""

  def __init__(self, rng: np.random.Generator):
    self.rng = rng
    self.random = itertools.chain.from_iterable(
        iter(lambda: rng.random(4096).tolist(), None)).__next__   # () -> float in [0, 1)

  def integers(self, low: int, high: int | None = None) -> int:
    """An integer in [low, high), or in [0, low) without high."""
    low, high = (0, low) if high is None else (low, high)
    return low + min(int(self.random() * (high - low)), high - low - 1)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """int64 [sum(lengths)]: starts[k], starts[k] + 1, ..., starts[k] + lengths[k] - 1, for
  k = 0, 1, ... in turn (the indices that concatenate the spans)."""
  ends = np.cumsum(lengths)
  return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - (ends - lengths), lengths)


def _trim_counts(la: np.ndarray, lb: np.ndarray, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
  """Tokens to remove from A and B (int64 [N] each): the longer loses one token at a
  time until A + B fit, so it loses tokens until both are equal, then they alternate
  (B first on a tie)."""
  excess = np.maximum(la + lb - max_tokens, 0)
  lead = np.minimum(excess, np.abs(la - lb))
  rest = excess - lead
  return np.where(la > lb, lead, 0) + rest // 2, np.where(la <= lb, lead, 0) + rest - rest // 2


def _pair_spans(docs: Documents, max_tokens: int, objective: str, short_seq_prob: float,
                draws: _Draws) -> np.ndarray:
  """int64 [N, 5]: (a_start, a_end, b_start, b_end, label) per pair, spans of docs.tokens
  before trimming, B maybe empty (the BERT / ALBERT procedure above)."""
  cum, bounds, n_docs = docs.sentences.tolist(), docs.documents.tolist(), len(docs)
  out = []
  for d in range(n_docs):
    first, last = bounds[d], bounds[d + 1]   # sentences first .. last - 1
    target = max_tokens
    if draws.random() < short_seq_prob:
      target = draws.integers(2, max_tokens + 1)
    i = first
    while i < last:
      # The chunk: sentences i .. e-1, e the first end reaching target (or the document's).
      e = bisect.bisect_left(cum, cum[i] + target, i + 1, last)
      cut = draws.integers(i + 1, e) if e - i >= 2 else i + 1   # A: sentences i .. cut-1
      a0, a1, label, nxt = cum[i], cum[cut], 0, e
      if objective == "nsp" and (e - i == 1 or draws.random() < 0.5):
        label, nxt = 1, cut   # B from another document; the unused sentences are put back
        other = d
        for _ in range(10):
          other = draws.integers(n_docs)
          if other != d:
            break
        s = draws.integers(bounds[other], bounds[other + 1])
        t = bisect.bisect_left(cum, cum[s] + target - (a1 - a0), s + 1, bounds[other + 1])
        b0, b1 = cum[s], cum[t]
      elif e - i >= 2:
        b0, b1 = a1, cum[e]
      elif objective == "sop" and a1 - a0 >= 2:   # one sentence: cut inside it
        b1 = a1
        a1 = b0 = draws.integers(a0 + 1, a1)
      else:
        b0 = b1 = a1
      if objective == "sop" and draws.random() < 0.5:
        a0, a1, b0, b1, label = b0, b1, a0, a1, 1
      out += (a0, a1, b0, b1, label)
      i = nxt
  return np.array(out, np.int64).reshape(-1, 5)


def _pair_store(docs: Documents, max_tokens: int, objective: str, short_seq_prob: float,
                cls_id: int, sep_id: int, draws: _Draws) -> ExampleStore:
  spans = _pair_spans(docs, max_tokens, objective, short_seq_prob, draws)
  spans = spans[(spans[:, 1] > spans[:, 0]) & (spans[:, 3] > spans[:, 2])]
  a0, a1, b0, b1, labels = spans.T                                       # [N] each
  # Trim: each removed token is from the front with probability 1/2, so a segment
  # losing k tokens loses Binomial(k, 1/2) at its front.
  ka, kb = _trim_counts(a1 - a0, b1 - b0, max_tokens)
  fa, fb = draws.rng.binomial(ka, 0.5), draws.rng.binomial(kb, 0.5)
  a0, a1, b0, b1 = a0 + fa, a1 - (ka - fa), b0 + fb, b1 - (kb - fb)
  # Rows [CLS] A [SEP] B [SEP]: five spans each, of docs.tokens + [cls_id, sep_id].
  t = len(docs.tokens)
  one = np.ones_like(a0)
  starts = np.stack([t * one, a0, (t + 1) * one, b0, (t + 1) * one], 1)  # [N, 5]
  lengths = np.stack([one, a1 - a0, one, b1 - b0, one], 1)             # [N, 5]
  source = np.concatenate([docs.tokens, np.array([cls_id, sep_id], np.int32)])
  ids = source[_ranges(starts.ravel(), lengths.ravel())]
  types = np.repeat(np.tile(np.array([0, 0, 0, 1, 1], np.int8), len(a0)), lengths.ravel())
  return ExampleStore(ids=ids, types=types, segs=None,
                      offsets=np.concatenate([[0], np.cumsum(lengths.sum(1))]),
                      labels=labels.astype(np.int32))


def _single_spans(docs: Documents, max_tokens: int) -> np.ndarray:
  """int64 [N, 2]: consecutive sentences of each document in pieces of at most
  max_tokens tokens, cut at the last sentence end that fits (inside an over-long
  sentence when none does)."""
  cum, bounds, out = docs.sentences.tolist(), docs.documents.tolist(), []
  for d in range(len(docs)):
    first, last = bounds[d], bounds[d + 1]
    pos, end = cum[first], cum[last]
    while pos < end:
      stop = cum[bisect.bisect_right(cum, pos + max_tokens, first, last + 1) - 1]
      stop = stop if stop > pos else pos + max_tokens
      out += (pos, stop)
      pos = stop
  return np.array(out, np.int64).reshape(-1, 2)


def _pack(lengths: list[int], max_len: int) -> list[list[int]]:
  """First fit decreasing of sequences into rows of max_len tokens (full ones alone):
  rows of sequence indices."""
  bins, room = [], []
  for j in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
    n = lengths[j]
    k = next((k for k in range(max(0, len(bins) - 64), len(bins)) if room[k] >= n), None)
    if k is None:
      bins.append([j])
      room.append(max_len - n)
    else:
      bins[k].append(j)
      room[k] -= n
  return bins


def _single_store(docs: Documents, max_seq_length: int, packing: bool, cls_id: int,
                  sep_id: int) -> ExampleStore:
  spans = _single_spans(docs, max_seq_length - 2)
  seq_len = spans[:, 1] - spans[:, 0] + 2                              # [N] with [CLS], [SEP]
  rows = (_pack(seq_len.tolist(), max_seq_length) if packing
          else [[j] for j in range(len(spans))])
  order = np.array([j for row in rows for j in row], np.int64)          # sequences, row by row
  per_row = np.array([len(row) for row in rows], np.int64)
  t = len(docs.tokens)
  one = np.ones_like(order)
  starts = np.stack([t * one, spans[order, 0], (t + 1) * one], 1)     # [N, 3]
  lengths = np.stack([one, seq_len[order] - 2, one], 1)               # [N, 3]
  source = np.concatenate([docs.tokens, np.array([cls_id, sep_id], np.int32)])
  ids = source[_ranges(starts.ravel(), lengths.ravel())]
  # A sequence's number in its row: 1, 2, ... restarting at each row.
  first = np.repeat(np.cumsum(per_row) - per_row, per_row)
  segs = np.repeat((np.arange(len(order)) - first + 1).astype(np.int8), seq_len[order])
  row_end = np.cumsum(seq_len[order])[np.cumsum(per_row) - 1]          # [rows]
  return ExampleStore(ids=ids, types=np.zeros(len(ids), np.int8), segs=segs if packing else None,
                      offsets=np.concatenate([[0], row_end]).astype(np.int64),
                      labels=np.zeros(len(rows), np.int32))


def create_examples(docs: list[Document] | Documents, *, max_seq_length: int,
                    pair_objective: str, cls_id: int, sep_id: int, seed,
                    short_seq_prob: float = 0.1, packing: bool = False,
                    allow_empty: bool = False) -> ExampleStore:
  """All examples of `docs` (`Documents`, or lists of int32 sentences), deterministic from
  `seed` (an int or ints). No example is a ValueError unless `allow_empty` (one shard of
  many)."""
  if pair_objective not in ("nsp", "sop", "none"):
    raise ValueError(f"data.pair_objective must be 'nsp', 'sop' or 'none' (got {pair_objective!r})")
  if packing and pair_objective != "none":
    raise ValueError("data.packing=True needs data.pair_objective='none'")
  if not isinstance(docs, Documents):
    docs = Documents.of(docs)
  draws = _Draws(np.random.default_rng([*np.atleast_1d(seed).tolist(), 0xE8A]))
  if pair_objective == "none":
    store = _single_store(docs, max_seq_length, packing, cls_id, sep_id)
  else:
    store = _pair_store(docs, max_seq_length - 3, pair_objective, short_seq_prob, cls_id,
                        sep_id, draws)
  if not len(store) and not allow_empty:
    raise ValueError(f"no {pair_objective!r} examples: the documents are too short to make "
                     "a sentence pair (each needs two tokens at least)")
  return store
