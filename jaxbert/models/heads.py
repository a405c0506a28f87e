"""Pretraining and task heads (Devlin et al. 2019, §3.1 and Appendix A.1; Lan et al.
2020, §3.1 "Inter-sentence coherence loss").

- MlmHead: transform (dense D -> E, activation, LayerNorm) then a decoder tied to the
  word embedding (`nn.Embed.attend`) plus a vocabulary bias. It can run on every
  position or only on given (masked) positions, which for small models removes most
  of the step's work (the V-wide projection).
- Pooler: tanh(dense(first token)), the sentence representation (of each packed
  example too: the callers pick the first tokens).
- PairHead: 2-way classifier on the pooled output: next-sentence prediction (BERT)
  or sentence-order prediction (ALBERT); the head is the same, the data differs,
  and only ALBERT's drops out the pooled output first (`pair_head_dropout`; BERT's
  NSP head has no dropout, as in Google's code and HF's BertPreTrainingHeads).
- ClassifierHead: sequence classification on the pooled output (BERT, ALBERT) or,
  without a pooler, on dense + ReLU of the first token (DistilBERT).
- TokenClassifierHead: a class per position (tagging), on every hidden state.
- SpanHead: extractive question answering, a start and an end logit per position
  (Devlin et al. 2019, §4.2, SQuAD).

The models these heads make, and which heads each model has: jaxbert/models/tasks.py.

Dimension legend: B batch, L length, P predicted positions, S packed examples per row,
D hidden, E embedding width, V vocab, C classes.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxbert.models.dropout import Dropout
from jaxbert.models.layers import ACTIVATIONS, Dense, layer_norm, zeros_init

Array = jax.Array


def gather_positions(x: Array, positions: Array) -> Array:
  """x [B, L, ...], int positions [B, P] -> [B, P, ...]."""
  idx = positions.reshape(positions.shape + (1,) * (x.ndim - 2))
  return jnp.take_along_axis(x, idx, axis=1)


class MlmHead(nn.Module):
  """Masked-LM logits, float32 [B, L|P, V], from hidden states [B, L, D]."""
  hidden: int                       # D
  embed: int                        # E
  vocab: int                        # V
  activation: str = "gelu"
  layer_norm_eps: float = 1e-12
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array, decoder: nn.Embed, positions: Array | None = None) -> Array:
    if positions is not None:
      x = gather_positions(x, positions)                                   # [B, P, D]
    x = Dense((self.hidden,), (self.embed,), ("embed", None), self.init_stddev, self.dtype,
              self.param_dtype, name="transform")(x)                       # [B, P, E]
    x = ACTIVATIONS[self.activation](x)
    x = layer_norm(self.layer_norm_eps, self.dtype, self.param_dtype, "transform_norm")(x)
    logits = decoder.attend(x).astype(jnp.float32)                         # [B, P, V]
    bias = self.param("bias", zeros_init(("vocab",)), (self.vocab,), self.param_dtype)
    return logits + bias.astype(jnp.float32)


class Pooler(nn.Module):
  """tanh(W h + b) of first-token hidden states h [..., D] ([CLS]: [B, D]; the first
  token of each packed example: [B, S, D]) -> [..., D]."""
  hidden: int
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    return jnp.tanh(Dense((self.hidden,), (self.hidden,), (None, "embed"), self.init_stddev,
                          self.dtype, self.param_dtype, name="dense")(x))


class PairHead(nn.Module):
  """NSP / SOP logits, float32 [B, 2], from the pooled output [B, D]."""
  hidden: int
  dropout_rate: float = 0.0
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32
  dropout_bits: str = "threefry"

  @nn.compact
  def __call__(self, pooled: Array, deterministic: bool = True) -> Array:
    drop = Dropout(self.dropout_rate, bits=self.dropout_bits)
    pooled = drop(pooled, deterministic=deterministic)
    return Dense((self.hidden,), (2,), ("embed", None), self.init_stddev, self.dtype,
                 self.param_dtype, name="classifier")(pooled).astype(jnp.float32)


class ClassifierHead(nn.Module):
  """Sequence-classification logits, float32 [..., C].

  Input [..., D]: the pooled output when the encoder has a pooler, else the first
  token's hidden state, which goes through dense + ReLU first (DistilBERT).
  """
  hidden: int
  num_labels: int
  pooled_input: bool = True
  dropout_rate: float = 0.1
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32
  dropout_bits: str = "threefry"

  @nn.compact
  def __call__(self, x: Array, deterministic: bool = True) -> Array:
    if not self.pooled_input:
      x = jax.nn.relu(Dense((self.hidden,), (self.hidden,), (None, "embed"), self.init_stddev,
                            self.dtype, self.param_dtype, name="pre_classifier")(x))
    x = Dropout(self.dropout_rate, bits=self.dropout_bits)(x, deterministic=deterministic)
    return Dense((self.hidden,), (self.num_labels,), ("embed", None), self.init_stddev,
                 self.dtype, self.param_dtype, name="classifier")(x).astype(jnp.float32)


class TokenClassifierHead(nn.Module):
  """Per-token logits, float32 [B, L, C], from hidden states [B, L, D]."""
  hidden: int
  num_labels: int
  dropout_rate: float = 0.1
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32
  dropout_bits: str = "threefry"

  @nn.compact
  def __call__(self, x: Array, deterministic: bool = True) -> Array:
    x = Dropout(self.dropout_rate, bits=self.dropout_bits)(x, deterministic=deterministic)
    return Dense((self.hidden,), (self.num_labels,), ("embed", None), self.init_stddev,
                 self.dtype, self.param_dtype, name="classifier")(x).astype(jnp.float32)


class SpanHead(nn.Module):
  """Answer-span logits (start, end), each float32 [B, L], from hidden states [B, L, D]."""
  hidden: int
  dropout_rate: float = 0.0
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32
  dropout_bits: str = "threefry"

  @nn.compact
  def __call__(self, x: Array, deterministic: bool = True) -> tuple[Array, Array]:
    x = Dropout(self.dropout_rate, bits=self.dropout_bits)(x, deterministic=deterministic)
    logits = Dense((self.hidden,), (2,), ("embed", None), self.init_stddev, self.dtype,
                   self.param_dtype, name="span")(x).astype(jnp.float32)   # [B, L, 2]
    return logits[..., 0], logits[..., 1]                                  # [B, L] each
