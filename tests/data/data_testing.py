"""Helpers of the data tests: tiny synthetic corpora and configs."""

import numpy as np
from jaxbert.data.config import default_data_config
from jaxbert.data.loader import prepare


def synthetic_text(num_docs: int = 24, sents: int = 16, seed: int = 0) -> str:
  """BERT format: one sentence per line, a blank line between documents."""
  rng = np.random.default_rng(seed)
  words = ["".join(rng.choice(list("abcdefghijklmnoprstuvw"), rng.integers(2, 8)))
           for _ in range(300)]
  docs = []
  for _ in range(num_docs):
    lines = []
    for _ in range(sents):
      w = list(rng.choice(words, rng.integers(4, 14)))
      lines.append(" ".join(w).capitalize() + ".")
    docs.append("\n".join(lines))
  return "\n\n".join(docs) + "\n"


def tiny_config(corpus: str, data_dir: str, **overrides):
  c = default_data_config()
  c.corpus, c.data_dir = corpus, data_dir
  c.max_seq_length, c.max_predictions_per_seq, c.vocab_size = 32, 6, 400
  c.eval_fraction = 0.1
  c.update(overrides)
  return c


