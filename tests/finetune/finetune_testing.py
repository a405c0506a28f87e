"""Helpers of the fine-tuning tests (fixtures: conftest.py): a synthetic sentiment task,
tiny models of the three families, random parameters and the recipe for them. A
module of its own name, so that `from finetune_testing import ...` cannot pick up
another directory's conftest."""

from __future__ import annotations

import csv
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:  # in-process imports of jaxbert / train from any cwd
  sys.path.insert(0, REPO)

FILLER = ("the a movie was and it plot actor really quite very story film scene music "
          "some of this that with on in at long short day night city book show").split()
POSITIVE, NEGATIVE = ("good", "great", "fine", "lovely"), ("bad", "awful", "poor", "dull")
LENGTH = 32                         # data.max_seq_length of the tests
TINY = dict(hidden_size=32, num_heads=2, intermediate_size=64, max_position_embeddings=64,
            dropout_rate=0.0, attention_dropout_rate=0.0)
FAMILIES = {  # family -> (preset, overrides) of a tiny two-layer model
    "bert": ("bert-tiny", {}),
    "albert": ("albert-base", {"num_layers": 2, "embedding_size": 16}),
    "distilbert": ("distilbert-base", {"num_layers": 2}),
}


def sentence(rng, keyword: str, words: int) -> str:
  out = [str(w) for w in rng.choice(FILLER, size=words)]
  out.insert(int(rng.integers(0, min(words, 4) + 1)), keyword)  # early: survives truncation
  return " ".join(out)


def sentiment_rows(seed: int, n: int, long_every: int = 0) -> list[dict]:
  """Texts with one sentiment keyword among filler words; every long_every-th is longer
  than LENGTH tokens. label: "negative"/"positive"; score: +-(1..3) plus noise."""
  rng = np.random.default_rng(seed)
  rows = []
  for i in range(n):
    positive = bool(rng.random() < 0.6)
    keyword = str(rng.choice(POSITIVE if positive else NEGATIVE))
    words = 60 if long_every and i % long_every == 0 else int(rng.integers(2, 12))
    strength = POSITIVE.index(keyword) if positive else NEGATIVE.index(keyword)
    score = (1 + strength % 3 + rng.normal(0, 0.1)) * (1 if positive else -1)
    rows.append({"text": sentence(rng, keyword, words), "text_b": sentence(rng, "so", 3),
                 "label": "positive" if positive else "negative", "score": f"{score:.3f}"})
  return rows


def write_csv(path, rows: list[dict], columns=None) -> str:
  columns = columns or list(rows[0])
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
  return str(path)


def tiny_config(family: str, vocab_size: int):
  import jaxbert
  preset, extra = FAMILIES[family]
  return jaxbert.get_config(preset, vocab_size=vocab_size, **TINY, **extra)


def random_params(model, seed: int = 0) -> dict:
  """Random parameters of `model` drawn by numpy from its shapes (jaxbert.init_params
  compiles the model's init, seconds per model on CPU): normal(0, 0.1), LayerNorm
  scales around 1."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(lambda: nn.unbox(model.init(jax.random.key(0),
                                                      jnp.zeros((1, 8), jnp.int32)))["params"])
  draw = lambda path, s: ((path[-1].key == "scale") + rng.normal(0, 0.1, s.shape)).astype(s.dtype)
  return jax.tree_util.tree_map_with_path(draw, shapes)


def finetune_config(init: str, task: dict, **overrides):
  """train/configs/finetune_default.py for the tiny task, with dotted overrides."""
  from train.configs.finetune_default import get_config
  c = get_config()
  c.init, c.data.train, c.data.dev = init, task["train"], task["dev"]
  c.data.max_seq_length, c.data.max_segments = LENGTH, 4
  c.batch_size, c.learning_rate, c.num_epochs = 8, 3e-3, 4
  c.progress_bar, c.log_every = False, 1000
  for key, value in overrides.items():
    node = c
    *path, last = key.split(".")
    for p in path:
      node = node[p]
    node[last] = value
  return c
