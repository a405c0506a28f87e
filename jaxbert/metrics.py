"""Fine-tuning metrics over a whole evaluation set, on the host (GLUE's: Wang et al.
2019, §3): numpy in float64, from every example's prediction.

  classification_metrics(logits [N, C], labels int [N])
      loss (mean cross-entropy), accuracy, f1, mcc
  regression_metrics(scores [N], targets [N])
      loss (mean squared error), pearson, spearman

f1 is the F1 of class 1 for two classes (the positive class: label names sort
"negative" < "positive", "0" < "1") and the macro average over the classes present
(in the labels or the predictions) for more. mcc is Matthews' correlation, for more
than two classes in Gorodkin's (2004) form, as scikit-learn computes it. A correlation
that is undefined (a constant input) is nan. F1 and the correlations are not sums over
examples, so they cannot be the step's (sum, count) terms: the evaluation gathers the
predictions (train/finetune.py).

Legend: N examples, C classes.
"""

from __future__ import annotations

import numpy as np


def confusion(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
  """Counts [C, C]: row = true class, column = predicted class."""
  return np.bincount(labels * classes + predictions, minlength=classes * classes
                     ).reshape(classes, classes).astype(np.float64)


def f1_score(cm: np.ndarray) -> float:
  """Class 1's F1 for two classes; the macro F1 over the classes present for more."""
  tp = np.diag(cm)
  true, predicted = cm.sum(1), cm.sum(0)                                    # [C] each
  denominator = true + predicted
  f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
  if len(cm) == 2:
    return float(f1[1])
  return float(f1[denominator > 0].mean())


def matthews(cm: np.ndarray) -> float:
  """(c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)); 0 when undefined."""
  s, c = cm.sum(), np.trace(cm)
  true, predicted = cm.sum(1), cm.sum(0)                                    # [C] each
  denominator = np.sqrt((s * s - predicted @ predicted) * (s * s - true @ true))
  return float((c * s - predicted @ true) / denominator) if denominator > 0 else 0.0


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
  """loss, accuracy, f1, mcc of logits [N, C] against int labels [N]."""
  logits, labels = np.asarray(logits, np.float64), np.asarray(labels, np.int64)
  z = logits - logits.max(-1, keepdims=True)                                # [N, C]
  log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
  predictions = logits.argmax(-1)                                           # [N]
  cm = confusion(labels, predictions, logits.shape[-1])
  return {"loss": float(-np.take_along_axis(log_p, labels[:, None], -1).mean()),
          "accuracy": float((predictions == labels).mean()),
          "f1": f1_score(cm), "mcc": matthews(cm)}


def pearson(x: np.ndarray, y: np.ndarray) -> float:
  x, y = x - x.mean(), y - y.mean()
  denominator = np.sqrt((x @ x) * (y @ y))
  return float(x @ y / denominator) if denominator > 0 else float("nan")


def ranks(x: np.ndarray) -> np.ndarray:
  """1-based ranks [N], ties given their average rank."""
  order = np.argsort(x, kind="stable")
  sorted_x = x[order]
  starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])      # first of each tie
  ends = np.r_[starts[1:], len(x)]
  mean_rank = (starts + ends + 1) / 2.0                                     # per tie group
  out = np.empty(len(x))
  out[order] = np.repeat(mean_rank, ends - starts)
  return out


def regression_metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
  """loss (mean squared error), pearson, spearman of scores [N] against targets [N]."""
  scores, targets = np.asarray(scores, np.float64), np.asarray(targets, np.float64)
  return {"loss": float(((scores - targets) ** 2).mean()),
          "pearson": pearson(scores, targets),
          "spearman": pearson(ranks(scores), ranks(targets))}
