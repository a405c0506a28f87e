"""Synthetic batches that follow the data pipeline's batch contract (jaxbert/data).

All tokens are real (attention_mask 1); P = 20 * L // 128 masked positions per row
(BERT's max_predictions_per_seq: 20 at 128, 80 at 512), distinct, never [CLS].
"""

from __future__ import annotations

import numpy as np

from jaxbert.configs import EncoderConfig


def predictions_per_row(length: int) -> int:
  return max(1, 20 * length // 128)


def mlm_batch(cfg: EncoderConfig, batch: int, length: int, seed: int = 0) -> dict:
  rng = np.random.default_rng(seed)
  p = min(predictions_per_row(length), length - 1)
  ids = rng.integers(1, cfg.vocab_size, (batch, length), dtype=np.int32)
  positions = np.sort(np.stack([rng.choice(np.arange(1, length), p, replace=False)
                                for _ in range(batch)]), axis=1).astype(np.int32)
  types = np.zeros((batch, length), np.int32)
  if cfg.type_vocab_size > 1:
    types[:, length // 2:] = 1
  return {
      "input_ids": ids,
      "attention_mask": np.ones((batch, length), np.int32),
      "token_type_ids": types,
      "masked_positions": positions,
      "masked_ids": np.take_along_axis(ids, positions, axis=1),
      "masked_weights": np.ones((batch, p), np.float32),
      "sentence_labels": rng.integers(0, 2, (batch,), dtype=np.int32),
      "example_weights": np.ones((batch,), np.float32),
  }


def hf_labels(batch: dict) -> np.ndarray:
  """Hugging Face MLM labels [B, L]: the original id at masked positions, -100 elsewhere."""
  labels = np.full(batch["input_ids"].shape, -100, np.int64)
  np.put_along_axis(labels, batch["masked_positions"].astype(np.int64),
                    batch["masked_ids"].astype(np.int64), axis=1)
  return labels
