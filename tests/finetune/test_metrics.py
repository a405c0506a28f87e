"""Fine-tuning metrics against independent references: plain Python counts for accuracy,
F1 and Matthews' correlation (for several classes through the covariance of one-hot
vectors), scipy.stats for Pearson and Spearman; truncation against transformers'
longest_first loop written out."""

import math

import numpy as np
import pytest
import scipy.stats

from jaxbert import metrics
from jaxbert.data import labelled


def reference_f1(labels, predictions, cls):
  tp = sum(1 for t, p in zip(labels, predictions) if t == p == cls)
  fp = sum(1 for t, p in zip(labels, predictions) if t != cls and p == cls)
  fn = sum(1 for t, p in zip(labels, predictions) if t == cls and p != cls)
  return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


def reference_mcc(labels, predictions, classes):
  """cov(X, Y) / sqrt(cov(X, X) cov(Y, Y)) of one-hot rows (Gorodkin 2004)."""
  n = len(labels)
  x = [[float(t == k) for k in range(classes)] for t in labels]
  y = [[float(p == k) for k in range(classes)] for p in predictions]
  mean = lambda m: [sum(r[k] for r in m) / n for k in range(classes)]
  mx, my = mean(x), mean(y)
  cov = lambda a, ma, b, mb: sum((a[i][k] - ma[k]) * (b[i][k] - mb[k])
                                 for i in range(n) for k in range(classes))
  d = math.sqrt(cov(x, mx, x, mx) * cov(y, my, y, my))
  return cov(x, mx, y, my) / d if d else 0.0


@pytest.mark.parametrize("classes", [2, 4])
def test_classification_metrics(classes):
  rng = np.random.default_rng(classes)
  labels = rng.integers(0, classes, size=300)
  logits = rng.normal(size=(300, classes)) + 1.5 * np.eye(classes)[labels]  # better than chance
  got = metrics.classification_metrics(logits.astype(np.float32), labels)
  predictions = [int(np.argmax(row)) for row in logits]
  labels = [int(t) for t in labels]
  assert got["accuracy"] == pytest.approx(
      sum(t == p for t, p in zip(labels, predictions)) / 300, abs=1e-12)
  f1s = [reference_f1(labels, predictions, k) for k in range(classes)]
  want_f1 = f1s[1] if classes == 2 else sum(f for f in f1s if f is not None) / len(
      [f for f in f1s if f is not None])
  assert got["f1"] == pytest.approx(want_f1, abs=1e-9)
  assert got["mcc"] == pytest.approx(reference_mcc(labels, predictions, classes), abs=1e-9)
  nll = [math.log(sum(math.exp(v) for v in row)) - row[t] for row, t in
         zip(logits.astype(np.float32).astype(float).tolist(), labels)]
  assert got["loss"] == pytest.approx(sum(nll) / 300, rel=1e-9)


def test_binary_mcc_and_f1_by_hand():
  # tp 3, fn 1, fp 2, tn 4
  labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
  preds = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
  got = metrics.classification_metrics(np.eye(2)[preds], labels)
  assert got["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
  assert got["mcc"] == pytest.approx((3 * 4 - 2 * 1) / math.sqrt(5 * 4 * 6 * 5))
  constant = metrics.classification_metrics(np.eye(2)[np.zeros(10, int)], labels)
  assert constant["mcc"] == 0.0 and constant["f1"] == 0.0


def test_regression_metrics():
  rng = np.random.default_rng(0)
  targets = np.round(rng.normal(size=200), 1)                     # ties in the targets
  scores = targets + rng.normal(size=200) * 0.8
  scores[:20] = scores[20:40]                                     # ties in the scores
  got = metrics.regression_metrics(scores.astype(np.float32), targets)
  scores = scores.astype(np.float32).astype(np.float64)
  assert got["pearson"] == pytest.approx(scipy.stats.pearsonr(scores, targets)[0], abs=1e-9)
  assert got["spearman"] == pytest.approx(scipy.stats.spearmanr(scores, targets)[0], abs=1e-9)
  assert got["loss"] == pytest.approx(float(((scores - targets) ** 2).mean()), rel=1e-9)
  assert math.isnan(metrics.regression_metrics(np.ones(5), np.arange(5.0))["pearson"])


def longest_first(a: int, b: int, budget: int) -> tuple[int, int]:
  """transformers' truncate_sequences(..., "longest_first"): one token at a time from
  the longer, from the pair when they are equal."""
  while a + b > budget:
    if a > b:
      a -= 1
    else:
      b -= 1
  return a, b


def test_truncation_is_longest_first():
  grid = np.array([(a, b) for a in range(0, 25) for b in range(0, 25)])
  for budget in (1, 7, 12, 30):
    na, nb = labelled.truncated_lengths(grid[:, 0], grid[:, 1], budget)
    want = np.array([longest_first(a, b, budget) for a, b in grid])
    np.testing.assert_array_equal(np.stack([na, nb], 1), want)
