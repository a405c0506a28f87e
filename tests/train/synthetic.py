"""Synthetic batches that follow the data contract (jaxbert/data/__init__.py), for tests."""

from __future__ import annotations

import numpy as np


def make_batch(rng: np.random.Generator, batch: int = 8, length: int = 16, preds: int = 4,
               vocab: int = 64, pad_rows: int = 0) -> dict:
  """A contract-shaped batch; the last `pad_rows` rows weigh 0, lengths and masks vary."""
  ids = rng.integers(5, vocab, size=(batch, length)).astype(np.int32)
  lengths = rng.integers(length // 2, length + 1, size=batch)
  mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
  ids = ids * mask
  types = ((np.arange(length)[None, :] >= (lengths // 2)[:, None]) * mask).astype(np.int32)
  positions = np.stack([rng.choice(np.arange(1, n), size=preds, replace=False) for n in lengths])
  n_real = rng.integers(1, preds + 1, size=batch)
  weights = (np.arange(preds)[None, :] < n_real[:, None]).astype(np.float32)
  positions = (positions * weights).astype(np.int32)
  masked_ids = (np.take_along_axis(ids, positions, 1) * weights).astype(np.int32)
  ids[np.arange(batch)[:, None], positions] = np.where(weights > 0, 3, ids[np.arange(batch)[:, None], positions])
  example_weights = np.ones(batch, np.float32)
  if pad_rows:
    example_weights[-pad_rows:] = 0.0
  return dict(input_ids=ids, attention_mask=mask, token_type_ids=types,
              masked_positions=positions, masked_ids=masked_ids, masked_weights=weights,
              sentence_labels=rng.integers(0, 2, size=batch).astype(np.int32),
              example_weights=example_weights)
