"""Pretraining losses (Devlin et al. 2019, §3.1; Lan et al. 2020, §3.1).

Every function returns `(sum, count)` in float32: the weighted sum over the local
batch and the total weight. The training step divides once, after any cross-device
sum, so every parallel mode computes the same gradient even with uneven padding
(STYLE.md §10).

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


def mlm_loss(logits: Array, masked_ids: Array, masked_weights: Array) -> tuple[Array, Array]:
  """Masked-LM cross-entropy: logits [B, P, V], ids int [B, P], weights [B, P]."""
  w = masked_weights.astype(jnp.float32)
  return jnp.sum(_xent(logits, masked_ids) * w), jnp.sum(w)


def mlm_accuracy(logits: Array, masked_ids: Array, masked_weights: Array) -> tuple[Array, Array]:
  """(weighted number of correct argmax predictions, total weight) at masked positions."""
  w = masked_weights.astype(jnp.float32)
  correct = (jnp.argmax(logits, axis=-1) == masked_ids).astype(jnp.float32)
  return jnp.sum(correct * w), jnp.sum(w)


def pair_loss(logits: Array, labels: Array, weights: Array) -> tuple[Array, Array]:
  """NSP/SOP cross-entropy: logits [B, 2], labels int [B], example weights [B]."""
  w = weights.astype(jnp.float32)
  return jnp.sum(_xent(logits, labels) * w), jnp.sum(w)


def pair_accuracy(logits: Array, labels: Array, weights: Array) -> tuple[Array, Array]:
  w = weights.astype(jnp.float32)
  correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
  return jnp.sum(correct * w), jnp.sum(w)
