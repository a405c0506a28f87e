"""Dynamic masking statistics over many examples."""

import numpy as np
import pytest

from jaxbert.data.masking import Masker, example_keys, uniform

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
  assert abs(rate - 0.15) < 0.005  # budget k filled: non-fitting words are skipped
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


def reference_units(ids_row, key, ngram_max, l):
  """Per-row plain Python: words, then runs of n words, n drawn from uniform stream 3."""
  cdf = [sum(1 / m for m in range(1, n + 1)) for n in range(1, ngram_max + 1)]
  cdf = [c / cdf[-1] for c in cdf]
  draws = uniform(np.array([key], np.uint64), 3, l)[0]
  word, words, prev_cand = -1, [], False
  for t in ids_row.tolist():
    cand = t not in SPECIALS
    if cand and (not CONT[t] or not prev_cand):
      word += 1
    words.append(max(word, 0))
    prev_cand = cand
  run_of_word, run, left = {}, 0, None
  for w in range(l):
    if left is None:
      left = next(n for n in range(1, ngram_max + 1) if draws[run] < cdf[n - 1])
    run_of_word[w] = run
    left -= 1
    if left == 0:
      run, left = run + 1, None
  return np.array([run_of_word[w] for w in words])


@pytest.mark.parametrize("ngram_max", [3, 4, 6])
def test_ngram_units_match_per_row_reference(ngram_max):
  ids = batch(256)
  keys = example_keys(3, np.zeros(256), np.arange(256))
  m = Masker(V, SPECIALS, MASK, CONT, ngram_max=ngram_max)
  cand, unit = m.units(ids, keys)
  for r in range(len(ids)):
    ref = reference_units(ids[r], keys[r], ngram_max, ids.shape[1])
    assert np.array_equal(unit[r][cand[r]], ref[cand[r]]), f"row {r}"


@pytest.mark.parametrize("whole_word,ngram_max", [(True, 1), (True, 3), (False, 4)])
def test_rate_is_mask_prob_when_units_are_skipped(whole_word, ngram_max):
  """Google's rule: a unit that overflows the budget is skipped, the next one tried."""
  ids = batch(1000)  # ~60k candidate tokens in rows of ~60 (the old rule gave 13.3-14.4%)
  out = mask(ids, whole_word=whole_word, ngram_max=ngram_max, max_predictions=128)
  cand = ~np.isin(ids, SPECIALS)
  rate = out["masked_weights"].sum() / cand.sum()
  assert abs(rate - 0.15) < 0.005, rate


def test_selection_matches_per_row_greedy_reference():
  ids = batch(200)
  keys = example_keys(5, np.zeros(200), np.arange(200))
  m = Masker(V, SPECIALS, MASK, CONT, ngram_max=3, max_predictions=20)
  cand, unit = m.units(ids, keys)
  out = m(ids, keys)
  draws = uniform(keys, 1, ids.shape[1])
  for r in range(len(ids)):
    n_cand = int(cand[r].sum())
    k = min(20, max(1, round(n_cand * 0.15)))
    sizes = {}
    for p in np.flatnonzero(cand[r]).tolist():
      sizes.setdefault(int(unit[r, p]), []).append(p)
    chosen = []
    for u in sorted(sizes, key=lambda u: draws[r, u]):
      if len(chosen) >= k:
        break
      if len(chosen) + len(sizes[u]) <= k:
        chosen += sizes[u]
    got = out["masked_positions"][r][out["masked_weights"][r] > 0]
    assert sorted(chosen) == got.tolist(), f"row {r}"


def test_mlm_smoothing_probabilities():
  """k = 1: position i is chosen with probability max(count, 1)^-0.7 / sum over the row."""
  counts = np.zeros(V)
  counts[5:15] = [0, 1, 3, 10, 50, 200, 1000, 5000, 20000, 100000]
  row = np.array([2] + list(range(5, 15)) + [3], np.int32)  # [CLS] ten tokens [SEP]
  n = 40000
  ids = np.tile(row, (n, 1))
  m = Masker(V, SPECIALS, MASK, CONT, mask_prob=0.1, token_counts=counts, mlm_smoothing=0.7)
  out = m(ids, example_keys(11, np.zeros(n), np.arange(n)))
  assert np.all(out["masked_weights"].sum(1) == 1)
  freq = np.bincount(out["masked_positions"][:, 0], minlength=12)[1:11] / n
  w = [max(c, 1.0) ** -0.7 for c in counts[5:15]]
  expected = [x / sum(w) for x in w]
  assert np.allclose(freq, expected, atol=0.006), (freq, expected)


def test_mlm_smoothing_bad_arguments():
  with pytest.raises(ValueError, match="mlm_smoothing"):
    Masker(V, SPECIALS, MASK, CONT, mlm_smoothing=0.7)                  # no counts
  with pytest.raises(ValueError, match="mlm_smoothing"):
    Masker(V, SPECIALS, MASK, CONT, whole_word=True, token_counts=np.ones(V), mlm_smoothing=0.7)


def inclusion_probabilities(weights, k: int) -> np.ndarray:
  """Plain numpy: P(token i is among the k drawn) when tokens are drawn one at a time
  without replacement, each with probability proportional to its weight. The draw is a
  race of exponential clocks of rates w: i is drawn if fewer than k others ring before
  it, pi_i = integral of w_i exp(-w_i t) P(#{j != i rang by t} < k) dt."""
  w = np.asarray(weights, np.float64)
  s = np.linspace(np.log(1e-8 / w.max()), np.log(60 / w.min()), 6000)
  t = np.exp(s)                                                       # [T]
  rang = 1 - np.exp(-np.outer(w, t))                                  # [N, T]
  out = []
  for i in range(len(w)):
    dist = np.zeros((k, len(t)))                                      # P(m others rang)
    dist[0] = 1
    for j in np.delete(np.arange(len(w)), i):
      dist[1:] = dist[1:] * (1 - rang[j]) + dist[:-1] * rang[j]
      dist[0] = dist[0] * (1 - rang[j])
    out.append(np.trapezoid(w[i] * np.exp(-w[i] * t) * dist.sum(0) * t, s))
  return np.array(out)


def test_mlm_smoothing_draws_k_without_replacement():
  """k = 3 of 20 tokens: each token is predicted with its exact inclusion probability
  under weights max(count, 1)^-0.7 (the masking rate of rare tokens saturates)."""
  counts = np.zeros(V)
  tokens = np.arange(5, 25)
  counts[tokens] = np.round(np.logspace(0, 5, 20))
  n = 20000
  rng = np.random.default_rng(0)
  ids = np.stack([np.concatenate([[2], rng.permutation(tokens), [3]]) for _ in range(n)])
  m = Masker(V, SPECIALS, MASK, CONT, token_counts=counts, mlm_smoothing=0.7)
  out = m(ids.astype(np.int32), example_keys(11, np.zeros(n), np.arange(n)))
  assert np.all(out["masked_weights"].sum(1) == 3)                    # round(0.15 * 20)
  freq = np.bincount(out["masked_ids"].ravel(), minlength=V)[tokens] / n
  expected = inclusion_probabilities(np.maximum(counts[tokens], 1) ** -0.7, 3)
  assert abs(expected.sum() - 3) < 1e-4
  assert np.all(np.abs(freq - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-3), (
      freq, expected)


def zipf_text(num_docs: int = 30, sents: int = 20, seed: int = 0) -> str:
  """BERT format; 60 words drawn with probability proportional to 1 / rank."""
  rng = np.random.default_rng(seed)
  words = ["".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), 3)) + "a" for _ in range(60)]
  p = 1 / np.arange(1, 61)
  docs = ["\n".join(" ".join(rng.choice(words, rng.integers(6, 12), p=p / p.sum())) + "."
                    for _ in range(sents)) for _ in range(num_docs)]
  return "\n\n".join(docs) + "\n"


def test_mlm_smoothing_from_the_prepared_token_counts(tmp_path):
  """data.mlm_smoothing = 0.7: the preparation counts every id of the training text
  (equal to a plain count), and with one prediction per row (P = 1) token i of a row
  is predicted with probability w_i / sum of the row's w, w = max(count, 1)^-0.7."""
  from jaxbert.data import corpus
  from jaxbert.data.loader import prepare
  from data_testing import tiny_config
  (tmp_path / "zipf.txt").write_text(zipf_text())
  cfg = tiny_config(str(tmp_path / "zipf.txt"), str(tmp_path / "cache"), mlm_smoothing=0.7,
                    max_predictions_per_seq=1, pair_objective="none", vocab_size=200)
  data = prepare(cfg, str(tmp_path / "work"), seed=3)
  tok = data.tokenizer
  docs = corpus.read_documents(str(tmp_path / "zipf.txt"))
  held = set(corpus.heldout_documents(len(docs), cfg.eval_fraction, 3).tolist())
  plain = np.bincount([i for d, doc in enumerate(docs) if d not in held
                       for ids in tok.encode_batch(doc) for i in ids], minlength=tok.vocab_size)
  assert np.array_equal(np.load(f"{data.dataset_dir}/token_counts.npy"), plain)
  weight = np.maximum(plain, 1.0) ** -0.7
  special = np.isin(np.arange(tok.vocab_size), list(tok.special_ids | {tok.unk_id}))
  it = data.train_iterator(128)
  emp, exp, uni, seen = (np.zeros(tok.vocab_size) for _ in range(4))
  for _ in range(30):
    b = next(it)
    chosen = b["masked_weights"][:, 0] > 0
    ids = b["input_ids"].copy()                                       # the unmasked rows
    ids[chosen, b["masked_positions"][chosen, 0]] = b["masked_ids"][chosen, 0]
    cand = (b["attention_mask"] > 0) & ~special[ids]
    w = np.where(cand, weight[ids], 0.0)
    np.add.at(exp, ids[cand], (w / w.sum(1, keepdims=True))[cand])
    np.add.at(uni, ids[cand], (cand / cand.sum(1, keepdims=True))[cand])
    np.add.at(seen, ids[cand], 1)
    np.add.at(emp, b["masked_ids"][chosen, 0], 1)
  big = exp >= 20
  chi2 = lambda ref: float((((emp - ref) ** 2) / ref)[big].sum())
  dof = int(big.sum())
  assert dof >= 20 and chi2(exp) < dof + 5 * np.sqrt(2 * dof), (chi2(exp), dof)
  assert chi2(uni) > 10 * dof                                         # not uniform masking
  # The masking rate per occurrence falls as count^-0.7.
  slope = np.polyfit(np.log(plain[big]), np.log(emp[big] / seen[big]), 1)[0]
  assert abs(slope + 0.7) < 0.1, slope
