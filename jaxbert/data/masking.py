"""Dynamic masked-language-model masking (Devlin et al. 2019, section 3.1; Liu et al. 2019).

Fresh each epoch and reproducible: every random number is a counter-based hash
(splitmix64) of (seed, epoch, example index, position), so an example's mask does
not depend on the batch it lands in, on the number of processes, or on restarts.

Per example (row of ids, int32 [L]):
  1. candidates: every token that is not special ([PAD], [CLS], [SEP], [MASK],
     [UNK], [unusedN]; ALBERT's <pad>, <unk>);
  2. k = min(P, max(1, round(mask_prob * #candidates))) tokens are to be predicted;
  3. units: each candidate token; with whole-word masking a word (a piece and its
     continuations: "##" pieces of WordPiece; of ALBERT's Unigram, the pieces that do
     not start a word by unigram.is_word_start, "▁" marking word starts); with
     ngram_max = n > 1 (ALBERT, Lan et al. 2020 section 4.1 / Joshi et al. 2020) runs
     of 1..n consecutive words, lengths drawn with p(n) proportional to 1/n;
  4. units are taken in a random order; one that would overflow k is skipped and the
     next is tried, until k tokens are chosen (Google's create_pretraining_data.py);
     with `mlm_smoothing` = s > 0 (token units only; Sanh et al. 2019's training) the
     order is a weighted draw without replacement, token w with weight
     max(count(w), 1)^-s, so rare tokens are masked more often;
  5. each chosen token becomes [MASK] with probability 0.8, a random non-special
     token with 0.1, and stays unchanged with 0.1.

Shapes: B batch, L sequence length, P max_predictions_per_seq, V vocabulary.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
  """splitmix64's finaliser: uint64 -> uint64, a bijection with good avalanche."""
  z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
  z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
  return z ^ (z >> np.uint64(31))


def example_keys(seed: int, epoch, index) -> np.ndarray:
  """uint64 [B]: one key per example from (seed, epoch [B], example index [B])."""
  with np.errstate(over="ignore"):
    epoch = np.atleast_1d(np.asarray(epoch).astype(np.uint64))
    index = np.atleast_1d(np.asarray(index).astype(np.uint64))
    k = _mix(np.full(epoch.shape, seed, np.uint64) + _GOLDEN)
    k = _mix(k ^ (epoch * _GOLDEN + np.uint64(1)))
    return _mix(k ^ (index * _GOLDEN + np.uint64(2)))


def uniform(keys: np.ndarray, stream: int, n: int) -> np.ndarray:
  """float64 [B, n] in [0, 1): counter-based random numbers of stream `stream`."""
  with np.errstate(over="ignore"):
    ctr = np.arange(n, dtype=np.uint64) + np.uint64(stream << 32)
    z = _mix(keys[:, None] + (ctr[None, :] + np.uint64(1)) * _GOLDEN)
  return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


class Masker:
  """Masks batches of token ids; holds the vocabulary tables (picklable).

  Args:
    vocab_size: V.
    special_ids: ids never masked and never sampled as random replacements.
    mask_id: the [MASK] id.
    is_continuation: bool [V], True for pieces that continue a word (Tokenizer.is_continuation;
      needed for whole words / n-grams).
    mask_prob, max_predictions: the rate and the cap P.
    whole_word: mask whole words.
    ngram_max: ALBERT n-gram masking up to n words (1: off); implies whole words.
    token_counts: int [V], corpus frequency of each id (needed by mlm_smoothing).
    mlm_smoothing: s; masking probability proportional to max(count, 1)^-s (0: uniform;
      DistilBERT trains with 0.7).
  """

  def __init__(self, vocab_size: int, special_ids, mask_id: int, is_continuation=None, *,
               mask_prob: float = 0.15, max_predictions: int = 20, whole_word: bool = False,
               ngram_max: int = 1, token_counts=None, mlm_smoothing: float = 0.0):
    if not 0.0 < mask_prob < 1.0:
      raise ValueError(f"data.mask_prob must be in (0, 1) (got {mask_prob})")
    if max_predictions < 1 or ngram_max < 1:
      raise ValueError("data.max_predictions_per_seq and data.ngram_max must be >= 1")
    self.is_special = np.zeros(vocab_size, bool)
    self.is_special[list(special_ids)] = True
    self.random_ids = np.flatnonzero(~self.is_special).astype(np.int32)
    self.is_continuation = (np.zeros(vocab_size, bool) if is_continuation is None
                            else np.asarray(is_continuation, bool))
    self.mask_id, self.mask_prob, self.max_predictions = mask_id, mask_prob, max_predictions
    self.whole_word = whole_word or ngram_max > 1
    self.ngram_cdf = np.cumsum(1.0 / np.arange(1, ngram_max + 1))
    self.ngram_cdf /= self.ngram_cdf[-1]
    self.token_weight = None                                             # float64 [V]
    if mlm_smoothing:
      if mlm_smoothing < 0 or token_counts is None or self.whole_word:
        raise ValueError("mlm_smoothing must be >= 0, needs token_counts, and applies to "
                         "token-level masking only (not whole words or n-grams)")
      counts = np.asarray(token_counts, np.float64)
      if counts.shape != (vocab_size,):
        raise ValueError(f"token_counts must have shape ({vocab_size},) (got {counts.shape})")
      self.token_weight = np.maximum(counts, 1.0) ** -float(mlm_smoothing)

  def units(self, ids: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cand bool [B, L], unit int [B, L]): which tokens may be masked, and their unit."""
    b, l = ids.shape
    cand = ~self.is_special[ids]
    if self.whole_word:
      prev = np.zeros_like(cand)
      prev[:, 1:] = cand[:, :-1]
      start = cand & (~self.is_continuation[ids] | ~prev)
    else:
      start = cand
    unit = np.cumsum(start, axis=1) - 1                                  # word index [B, L]
    if len(self.ngram_cdf) > 1:
      # Cut the words into runs of n ~ p(n) words: run boundaries [B, L], then the run of
      # each word by one searchsorted over rows laid end to end (row r offset by r * 2L).
      # Boundaries past the last word (< L) are clipped to L, keeping every row in
      # [r * 2L, r * 2L + L] so the flattened array stays sorted.
      n = np.searchsorted(self.ngram_cdf, uniform(keys, 3, l), side="right") + 1
      bounds = np.minimum(np.cumsum(n, axis=1), l) + (np.arange(b) * 2 * l)[:, None]  # [B, L]
      query = unit + (np.arange(b) * 2 * l)[:, None]
      unit = np.searchsorted(bounds.ravel(), query.ravel(), side="right").reshape(b, l)
      unit -= (np.arange(b) * l)[:, None]
    return cand, np.maximum(unit, 0)

  def select(self, cand: np.ndarray, unit: np.ndarray, k: np.ndarray, keys: np.ndarray,
             ids: np.ndarray | None = None) -> np.ndarray:
    """bool [B, L]: the tokens to predict, whole units, at most k [B] per row.

    Units are visited in a random order (unit u of a row ranks by its key); a unit
    that would overflow k is skipped, and the visit stops once k tokens are chosen.
    """
    b, l = cand.shape
    size = np.zeros((b, l), np.int64)                                    # tokens per unit [B, U]
    np.add.at(size, (np.broadcast_to(np.arange(b)[:, None], (b, l)), unit), cand)
    key = uniform(keys, 1, l)                                            # [B, U]
    if self.token_weight is not None:
      # Efraimidis-Spirakis: ascending -log(u) / w is a weighted draw without replacement.
      weight = np.zeros((b, l))                                          # [B, U]
      r, c = np.nonzero(cand)
      weight[r, unit[r, c]] = self.token_weight[ids[r, c]]               # token units
      with np.errstate(divide="ignore", invalid="ignore"):
        key = -np.log1p(-key) / weight
    key = np.where(size > 0, key, np.inf)
    order = np.argsort(key, axis=1, kind="stable")                       # [B, U]
    s_size = np.take_along_axis(size, order, axis=1)
    taken, total = np.zeros((b, l), bool), np.zeros(b, np.int64)
    for j in range(l):
      if not (total < k).any():
        break
      fits = (s_size[:, j] > 0) & (total + s_size[:, j] <= k)
      taken[:, j] = fits
      total += np.where(fits, s_size[:, j], 0)
    unit_taken = np.zeros((b, l), bool)
    np.put_along_axis(unit_taken, order, taken, axis=1)                  # [B, U]
    return cand & np.take_along_axis(unit_taken, unit, axis=1)

  def __call__(self, ids: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
    """Masks ids int32 [B, L] with per-example keys uint64 [B] (see example_keys).

    Returns input_ids int32 [B, L] (masked), masked_positions int32 [B, P],
    masked_ids int32 [B, P], masked_weights float32 [B, P].
    """
    b, l = ids.shape
    p = self.max_predictions
    cand, unit = self.units(ids, keys)
    n_cand = cand.sum(axis=1)
    k = np.minimum(p, np.maximum(1, np.rint(n_cand * self.mask_prob))).astype(np.int64)
    k[n_cand == 0] = 0                                                   # [B]
    chosen = self.select(cand, unit, k, keys, ids)                       # [B, L]
    # 80% [MASK], 10% a random non-special token, 10% unchanged.
    u = uniform(keys, 2, l)
    rand_tok = self.random_ids[(uniform(keys, 4, l) * len(self.random_ids)).astype(np.int64)]
    out = np.where(chosen & (u < 0.8), self.mask_id, ids)
    out = np.where(chosen & (u >= 0.8) & (u < 0.9), rand_tok, out).astype(np.int32)
    # Fixed-size prediction slots, in position order.
    pos = np.argsort(~chosen, axis=1, kind="stable")[:, :p]              # [B, P]
    valid = np.take_along_axis(chosen, pos, axis=1)
    return {
        "input_ids": out,
        "masked_positions": np.where(valid, pos, 0).astype(np.int32),
        "masked_ids": np.where(valid, np.take_along_axis(ids, pos, axis=1), 0).astype(np.int32),
        "masked_weights": valid.astype(np.float32),
    }
