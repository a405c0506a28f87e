"""Dynamic masking statistics over many examples."""

import numpy as np
import pytest

from jaxbert.data.masking import Masker, example_keys

V, MASK, SPECIALS = 1000, 4, (0, 1, 2, 3, 4)
CONT = np.arange(V) >= 900  # ids 900.. are "##" continuation pieces


def batch(n=2000, l=128, seed=0):
  """Rows [CLS] a.. [SEP] b.. [SEP] [PAD].. with random lengths."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(5, 900, (n, l)).astype(np.int32)
  cont = rng.random((n, l)) < 0.3
  ids[cont] = rng.integers(900, V, cont.sum())
  for r, (la, lb) in enumerate(zip(rng.integers(5, 60, n), rng.integers(5, 60, n))):
    ids[r, 0], ids[r, la + 1], ids[r, la + lb + 2] = 2, 3, 3
    ids[r, la + lb + 3:] = 0
  return ids


def mask(ids, epoch=0, **kw):
  m = Masker(V, SPECIALS, MASK, CONT, **kw)
  return m(ids, example_keys(7, np.full(len(ids), epoch), np.arange(len(ids))))


def test_rate_split_and_specials():
  ids = batch()
  out = mask(ids)
  w = out["masked_weights"] > 0
  pos, orig = out["masked_positions"], out["masked_ids"]
  rows = np.nonzero(w)[0]
  cand = ~np.isin(ids, SPECIALS)
  assert abs(w.sum() / cand.sum() - 0.15) < 0.01
  assert w.sum(1).max() <= 20
  assert np.array_equal(orig[w], ids[rows, pos[w]])             # originals
  assert not np.isin(orig[w], SPECIALS).any()                   # never specials or padding
  assert np.all(pos[~w] == 0) and np.all(orig[~w] == 0)
  new = out["input_ids"][rows, pos[w]]
  assert abs(np.mean(new == MASK) - 0.8) < 0.02
  assert abs(np.mean(new == orig[w]) - 0.1) < 0.015
  assert abs(np.mean((new != MASK) & (new != orig[w])) - 0.1) < 0.015
  assert not np.isin(new[new != MASK], SPECIALS).any()          # random tokens not special
  changed = out["input_ids"] != ids                             # only at masked positions
  chosen = np.zeros_like(changed)
  chosen[rows, pos[w]] = True
  assert not (changed & ~chosen).any()
  assert np.all(np.diff(np.where(w, pos, 10**6), axis=1)[:, :-1] >= 0)  # sorted


def test_cap_and_mask_prob():
  ids = batch(500)
  out = mask(ids, mask_prob=0.4, max_predictions=12)
  assert out["masked_weights"].shape == (500, 12)
  assert out["masked_weights"].sum(1).max() == 12
  low = mask(ids, mask_prob=0.3, max_predictions=128)
  cand = ~np.isin(ids, SPECIALS)
  assert abs(low["masked_weights"].sum() / cand.sum() - 0.3) < 0.01


def test_dynamic_and_deterministic():
  ids = batch(200)
  a, b, c = mask(ids), mask(ids), mask(ids, epoch=1)
  assert all(np.array_equal(a[k], b[k]) for k in a)
  assert np.mean(np.any(a["masked_positions"] != c["masked_positions"], axis=1)) > 0.95
  # An example's mask does not depend on its batch neighbours.
  m = Masker(V, SPECIALS, MASK, CONT)
  part = m(ids[50:60], example_keys(7, np.zeros(10), np.arange(50, 60)))
  assert all(np.array_equal(a[k][50:60], part[k]) for k in a)


def words_of(ids_row):
  """Word id per position: a non-special non-"##" token starts a word."""
  start = ~CONT[ids_row] | np.isin(np.roll(ids_row, 1), SPECIALS)
  return np.cumsum(start)


@pytest.mark.parametrize("ngram_max", [1, 3])
def test_whole_word_masking(ngram_max):
  ids = batch(400)
  out = mask(ids, whole_word=True, ngram_max=ngram_max)
  cand = ~np.isin(ids, SPECIALS)
  rate = out["masked_weights"].sum() / cand.sum()
  assert 0.12 < rate <= 0.15
  for r in range(len(ids)):
    w = out["masked_weights"][r] > 0
    chosen = set(out["masked_positions"][r][w].tolist())
    word = words_of(ids[r])
    for p in chosen:  # every token of a chosen word is chosen
      same = np.flatnonzero((word == word[p]) & cand[r])
      assert set(same.tolist()) <= chosen


def test_ngram_lengths_follow_one_over_n():
  ids = np.full((3000, 64), 7, np.int32)  # one-token words, no specials
  m = Masker(V, SPECIALS, MASK, CONT, ngram_max=3)
  _, unit = m.units(ids, example_keys(0, np.zeros(3000), np.arange(3000)))
  lengths = np.concatenate([np.bincount(u)[:-1] for u in unit])  # drop each row's cut-off run
  freq = np.bincount(lengths, minlength=4)[1:] / len(lengths)
  assert np.allclose(freq, [6 / 11, 3 / 11, 2 / 11], atol=0.015)
