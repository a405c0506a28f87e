"""Linear probes of frozen features: does pretraining give an encoder features that carry
more of a task's signal than the same shape at random initialisation?

    python -m benchmarks.feature_probe --init=runs/default          # VADER binary
    python -m benchmarks.feature_probe --init=runs/default \
        --data=data_cache/labelled/vader-regression --label_column=score

For the init (a jaxbert workdir or a Hugging Face directory, loaded as train.finetune
loads it) and for its shape with random weights (jaxbert.init_params, seed 0), every
example is encoded alone ([CLS] text [SEP], the init's tokenizer, up to 128 tokens) and
four features are read, nothing trained:
  cls       the last layer at [CLS]            [D]
  pooled    the pooler's output (when present) [D]
  mean      the last layer, mean over tokens   [D]
  emb_mean  the embeddings, mean over tokens   [D] (a bag of the input embeddings)
Each is standardised and fit by ridge regression to the label (±1 for two classes, the
score for regression), the ridge weight picked on the last 10% of train from 1e-2..1e4.
The score is dev accuracy (the sign) or dev Pearson. Closed form, so the figures are
exact for given features. Results: benchmarks/results/feature_probe.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from benchmarks import environment

RIDGE = (1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4)


def features(model, params, enc, batch_size: int = 256) -> dict[str, np.ndarray]:
  """{name: float64 [N, D]} of every example of `enc`, each alone in its row."""
  import jax
  from jaxbert.data import packing

  @jax.jit
  def forward(p, ids, mask, types):
    out = model.apply({"params": p}, ids, attention_mask=mask, token_type_ids=types)
    m = mask[..., None].astype(out.last_hidden_state.dtype)                  # [B, L, 1]
    mean = lambda h: (h * m).sum(1) / m.sum(1)                               # [B, D]
    got = {"cls": out.last_hidden_state[:, 0], "mean": mean(out.last_hidden_state),
           "emb_mean": mean(out.hidden_states[0])}
    if out.pooled_output is not None:
      got["pooled"] = out.pooled_output
    return got

  length = int(np.diff(enc.offsets).max())
  types = model.config.type_vocab_size > 0
  parts: dict[str, list] = {}
  for start in range(0, len(enc), batch_size):
    rows = [np.array([i]) for i in range(start, min(start + batch_size, len(enc)))]
    rows += [np.zeros(0, np.int64)] * (batch_size - len(rows))           # one shape
    b = packing.make_batch(enc, rows, length, 1, packed=False, token_types=types)
    b["attention_mask"][len(rows):, 0] = 1      # padding rows: avoid an empty mean
    got = forward(params, b["input_ids"], b["attention_mask"], b.get("token_type_ids"))
    n = min(batch_size, len(enc) - start)
    for k, v in got.items():
      parts.setdefault(k, []).append(np.asarray(v, np.float64)[:n])
  return {k: np.concatenate(v) for k, v in parts.items()}


def ridge_fit(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
  """Weights [D + 1] (bias last) minimising |[x 1] w - y|^2 + lam |w[:-1]|^2."""
  a = np.concatenate([x, np.ones((len(x), 1))], 1)
  reg = lam * np.eye(a.shape[1])
  reg[-1, -1] = 0.0
  return np.linalg.solve(a.T @ a + reg, a.T @ y)


def score(w: np.ndarray, x: np.ndarray, y: np.ndarray, regression: bool) -> float:
  """Pearson of the predictions (regression), else the accuracy of their sign."""
  from jaxbert import metrics
  pred = x @ w[:-1] + w[-1]
  if regression:
    return metrics.pearson(pred, y)
  return float(((pred > 0) == (y > 0)).mean())


def probe(x_train, y_train, x_dev, y_dev, regression: bool) -> dict:
  """Dev score of the ridge probe, its weight chosen on the last 10% of train."""
  mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
  x_train, x_dev = (x_train - mu) / sd, (x_dev - mu) / sd
  cut = int(0.9 * len(x_train))
  held = {lam: score(ridge_fit(x_train[:cut], y_train[:cut], lam), x_train[cut:],
                     y_train[cut:], regression) for lam in RIDGE}
  lam = max(held, key=held.get)
  return {"dev": score(ridge_fit(x_train, y_train, lam), x_dev, y_dev, regression),
          "ridge": lam}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--init", default="runs/default", help="a jaxbert workdir or HF directory")
  ap.add_argument("--data", default="data_cache/labelled/vader-binary",
                  help="a directory with train.csv and dev.csv")
  ap.add_argument("--label_column", default="label")
  ap.add_argument("--name", default="feature_probe")
  ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = ap.parse_args()

  import jaxbert
  from jaxbert.data import labelled
  from jaxbert.data.tokenizer import load_tokenizer
  from train.finetune import load_init

  model, params, vocab_dir = load_init(args.init)
  tok = load_tokenizer(vocab_dir)
  cols = dict(text_column="text", pair_column="", label_column=args.label_column)
  train, dev = (labelled.read_examples(os.path.join(args.data, f"{s}.csv"), split=s, **cols)
                for s in ("train", "dev"))
  space = labelled.label_space(train)
  if not space.regression and space.num_labels != 2:
    raise SystemExit("error: the probe takes two classes or a regression")
  enc_train, enc_dev = (labelled.encode(x, space, tok, 128) for x in (train, dev))
  target = lambda e: (e.labels.astype(np.float64) if space.regression
                      else 2.0 * e.labels - 1.0)
  results = {}
  for name, p in (("init", params), ("random", jaxbert.init_params(model, seed=0))):
    f_train, f_dev = features(model, p, enc_train), features(model, p, enc_dev)
    results[name] = {k: probe(f_train[k], target(enc_train), f_dev[k], target(enc_dev),
                              space.regression) for k in f_train}
    print(name, json.dumps({k: round(v["dev"], 4) for k, v in results[name].items()}),
          flush=True)

  metric = "Pearson" if space.regression else "accuracy"
  record = {"env": environment.describe(), "args": vars(args), "metric": metric,
            "train_examples": len(enc_train), "dev_examples": len(enc_dev),
            "results": results}
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
    json.dump(record, f, indent=2, default=str)
  lines = [f"# Linear probes of frozen features: {args.init} vs random weights, "
           f"{os.path.basename(args.data)} (dev {metric})", "",
           f"commit {record['env']['commit']}; ridge regression on standardised features, "
           f"weight chosen on the last 10% of train.", "",
           "| feature | pretrained | random init |", "|---|---|---|"]
  for k in results["init"]:
    lines.append(f"| {k} | {results['init'][k]['dev']:.4f} | {results['random'][k]['dev']:.4f} |")
  with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
