"""Sentence-pair and single-segment examples (BERT create_pretraining_data procedure)."""

import numpy as np
import pytest

from jaxbert.data.examples import create_examples

CLS, SEP = 2, 3


def numbered_docs(num_docs=30, seed=0):
  """Token ids that name their place: doc d holds ids [base_d, base_d + T_d) in order."""
  rng = np.random.default_rng(seed)
  docs, base = [], 10
  for _ in range(num_docs):
    lengths = rng.integers(3, 25, rng.integers(2, 20))
    doc = []
    for n in lengths:
      doc.append(np.arange(base, base + n, dtype=np.int32))
      base += n
    docs.append(doc)
  return docs


def doc_of(docs):
  starts = np.array([d[0][0] for d in docs])
  return lambda ids: np.searchsorted(starts, ids, side="right") - 1


def segments(store, i):
  ex = store.example(i)
  ids, types = ex["ids"], ex["types"]
  seps = np.flatnonzero(ids == SEP)
  return ids, types, ids[1:seps[0]], ids[seps[0] + 1:-1], ex["label"]


@pytest.mark.parametrize("objective", ["nsp", "sop"])
def test_pair_layout(objective):
  docs = numbered_docs()
  store = create_examples(docs, max_seq_length=48, pair_objective=objective, cls_id=CLS,
                          sep_id=SEP, seed=0)
  assert len(store) > 100
  lengths = np.diff(store.offsets)
  assert lengths.max() <= 48 and lengths.max() == 48  # filled to L
  for i in range(len(store)):
    ids, types, a, b, _ = segments(store, i)
    assert ids[0] == CLS and ids[-1] == SEP and (ids == SEP).sum() == 2 and (ids == CLS).sum() == 1
    assert len(a) >= 1 and len(b) >= 1
    assert list(types) == [0] * (len(a) + 2) + [1] * (len(b) + 1)
  assert np.mean(lengths == 48) > 0.4


def test_short_seq_prob():
  docs = numbered_docs()
  mean = lambda p: np.diff(create_examples(docs, max_seq_length=64, pair_objective="nsp",
                                           cls_id=CLS, sep_id=SEP, seed=0,
                                           short_seq_prob=p).offsets).mean()
  assert mean(1.0) < 0.75 * mean(0.0)


def test_nsp_labels_and_continuations():
  docs = numbered_docs(60)
  which = doc_of(docs)
  stores = [create_examples(docs, max_seq_length=64, pair_objective="nsp", cls_id=CLS,
                            sep_id=SEP, seed=s) for s in range(1, 6)]
  # 1/2 NotNext, plus the one-sentence chunks that are always NotNext (one seed: 0.49-0.66)
  assert 0.45 < np.concatenate([s.labels for s in stores]).mean() < 0.65
  store = stores[0]
  for i in range(len(store)):
    _, _, a, b, label = segments(store, i)
    assert np.all(np.diff(a) >= 1) and np.all(np.diff(b) == 1)  # contiguous, maybe trimmed
    assert len(set(which(a))) == 1 and len(set(which(b))) == 1
    if label == 0:  # B is the true continuation of A in the same document
      assert which(b)[0] == which(a)[0] and b[0] > a[-1]
    else:           # B comes from another document
      assert which(b)[0] != which(a)[0]


def test_sop_swaps():
  docs = numbered_docs(40)
  which = doc_of(docs)
  store = create_examples(docs, max_seq_length=64, pair_objective="sop", cls_id=CLS,
                          sep_id=SEP, seed=2)
  assert 0.4 < store.labels.mean() < 0.6
  for i in range(len(store)):
    _, _, a, b, label = segments(store, i)
    assert which(a)[0] == which(b)[0]  # always one document
    assert (b[0] > a[-1]) if label == 0 else (a[0] > b[-1])


def test_single_segment_and_packing():
  docs = numbered_docs(40)
  store = create_examples(docs, max_seq_length=40, pair_objective="none", cls_id=CLS,
                          sep_id=SEP, seed=0)
  body = []
  for i in range(len(store)):
    ids = store.example(i)["ids"]
    assert ids[0] == CLS and ids[-1] == SEP and len(ids) <= 40 and (ids == SEP).sum() == 1
    body.append(ids[1:-1])
  # Every token of the corpus appears exactly once, in order.
  assert np.array_equal(np.concatenate(body), np.concatenate([np.concatenate(d) for d in docs]))
  packed = create_examples(docs, max_seq_length=40, pair_objective="none", cls_id=CLS,
                           sep_id=SEP, seed=0, packing=True)
  assert len(packed) < len(store)
  assert np.diff(packed.offsets).max() <= 40
  assert sorted(packed.ids[packed.ids > SEP]) == sorted(np.concatenate(body))
  for i in range(len(packed)):
    ex = packed.example(i)
    starts = np.flatnonzero(np.diff(np.concatenate([[0], ex["segs"]])) != 0)
    assert np.all(ex["ids"][starts] == CLS) and ex["segs"][0] == 1


def test_trim_keeps_the_longer_rule():
  """Against a plain one-token-at-a-time reference: the same lengths kept."""
  from jaxbert.data.examples import _trim_counts
  la, lb, m = np.random.default_rng(0).integers(1, 60, (3, 300))
  m = np.maximum(m, 2)
  ka, kb = _trim_counts(la, lb, m)
  for i in range(300):
    ref = [la[i], lb[i]]
    while sum(ref) > m[i]:
      ref[0 if ref[0] > ref[1] else 1] -= 1
    assert [la[i] - ka[i], lb[i] - kb[i]] == ref


def test_deterministic_from_seed():
  docs = numbered_docs()
  make = lambda s: create_examples(docs, max_seq_length=32, pair_objective="nsp",
                                   cls_id=CLS, sep_id=SEP, seed=s)
  assert np.array_equal(make(5).ids, make(5).ids)
  assert not np.array_equal(make(5).ids[:500], make(6).ids[:500])


def test_errors():
  tiny = [[np.array([7], np.int32)]]
  with pytest.raises(ValueError, match="too short"):
    create_examples(tiny, max_seq_length=16, pair_objective="sop", cls_id=CLS, sep_id=SEP, seed=0)
  with pytest.raises(ValueError, match="pair_objective"):
    create_examples(tiny, max_seq_length=16, pair_objective="mlm", cls_id=CLS, sep_id=SEP, seed=0)
  with pytest.raises(ValueError, match="packing"):
    create_examples(tiny, max_seq_length=16, pair_objective="nsp", cls_id=CLS, sep_id=SEP,
                    seed=0, packing=True)
