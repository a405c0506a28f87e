"""Pretraining losses (Devlin et al. 2019, §3.1; Lan et al. 2020, §3.1).

Every function returns `(sum, count)` in float32: the weighted sum over the local
batch and the total weight. The training step divides once, after any cross-device
sum, so every parallel mode computes the same gradient even with uneven padding
(docs/design.md, "Losses").

Legend: B batch, P predicted positions, V vocab.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _xent(logits: Array, labels: Array) -> Array:
  """Cross-entropy float32 [...] of logits [..., V] against int labels [...]."""
  logits = logits.astype(jnp.float32)
  logz = jax.nn.logsumexp(logits, axis=-1)                                  # [...]
  picked = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]  # [...]
  return logz - picked


def weighted_xent(logits: Array, labels: Array, weights: Array) -> tuple[Array, Array]:
  """(weighted cross-entropy sum, total weight): logits [..., V], labels int [...],
  weights [...] (0 for padding)."""
  w = weights.astype(jnp.float32)
  return jnp.sum(_xent(logits, labels) * w), jnp.sum(w)


def weighted_accuracy(logits: Array, labels: Array, weights: Array) -> tuple[Array, Array]:
  """(weighted number of correct argmax predictions, total weight)."""
  w = weights.astype(jnp.float32)
  correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
  return jnp.sum(correct * w), jnp.sum(w)


# Masked LM: logits [B, P, V], masked ids [B, P], masked weights [B, P].
mlm_loss, mlm_accuracy = weighted_xent, weighted_accuracy
# NSP / SOP: logits [B, 2], labels [B] (0 = IsNext / in order), example weights [B].
pair_loss, pair_accuracy = weighted_xent, weighted_accuracy
